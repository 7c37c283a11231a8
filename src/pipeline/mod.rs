//! `extract`, `map` and `merge`: documents stream through the stages, each in its module:
//! [`admit`] (which records a run takes) → [`map`] (annotate, link, partial aggregation, per
//! chunk) → [`merge`] (rows written, partial tables added up, final tables and manifest),
//! with [`checkpoint`] saving where a run stands. `extract` is map and merge in one process;
//! `biotable map` and `biotable merge` are the same stages split across processes (Spark).
//!
//! Documents are read in chunks (`chunk_docs`); within a chunk, splitting, tokenizing and
//! decoding run in parallel (rayon) and the model runs length-sorted, token-budget batches
//! that never mix documents, so a document's results never depend on the documents around
//! it. Rows are written in input order as each chunk finishes, so memory holds one chunk
//! plus the aggregated entity table, whatever the corpus size. Output is deterministic.

pub mod admit;
mod checkpoint;
mod manifest;
pub mod map;
pub mod merge;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use self::admit::{Admission, Admitted, Shard};
pub use self::checkpoint::CHECKPOINT;
use self::checkpoint::{read_checkpoint, write_checkpoint, Checkpoint};
pub use self::manifest::{Counts, ExtractSummary, Manifest, MemoryReport, ModelInfo, Throughput};
use self::map::{MapSettings, MappedChunk, Mapper};
use self::merge::{manifest_for, Reducer};
pub use self::merge::{merge, MergeOptions};
use crate::export::{Exporter, Formats};
use crate::ingest::{discover, DocumentStream, FieldNames, InputKind};
use crate::ner::{BackendChoice, NerOptions};
use crate::profile::{Stage, StageTimes, Timer};
use crate::records::{ErrorRecord, Record, RecordWriter};
use crate::table::EntityTable;
use crate::types::Document;

/// Everything `biotable extract` takes.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    pub formats: Formats,
    pub model: PathBuf,
    pub batch_tokens: usize,
    pub threads: usize,
    pub progress: bool,
    pub fields: FieldNames,
    /// Documents per chunk.
    pub chunk_docs: usize,
    /// Stop after this many documents (try a corpus first).
    pub limit: Option<u64>,
    /// Link mentions to the bundled lexicon (ontology ids, abbreviations, companies).
    pub link: bool,
    /// Go on from the checkpoint an interrupted run left in `out`.
    pub resume: bool,
    /// Stop at the first bad record instead of skipping it.
    pub strict: bool,
    /// Least time between two checkpoints (a checkpoint follows a finished chunk).
    pub checkpoint_every: Duration,
    /// Which engine runs the model.
    pub backend: BackendChoice,
    /// Take only this shard of the input records, and write `part.jsonl` for `merge`.
    pub shard: Option<Shard>,
}

impl ExtractOptions {
    pub fn new(inputs: Vec<PathBuf>, out: PathBuf, model: PathBuf) -> Self {
        ExtractOptions {
            inputs,
            out,
            formats: Formats::default(),
            model,
            batch_tokens: NerOptions::default().batch_tokens,
            threads: 2,
            progress: false,
            fields: FieldNames::default(),
            chunk_docs: 256,
            limit: None,
            link: true,
            resume: false,
            strict: false,
            checkpoint_every: Duration::from_secs(30),
            backend: BackendChoice::Auto,
            shard: None,
        }
    }

    fn map_settings(&self) -> MapSettings {
        MapSettings {
            model: self.model.clone(),
            batch_tokens: self.batch_tokens,
            threads: self.threads,
            backend: self.backend,
            link: self.link,
        }
    }

    /// The arguments that shape the output: a resume must use the same.
    fn checkpoint_fingerprint(&self, model: &str) -> String {
        serde_json::json!({
            "inputs": self.inputs,
            "model": model,
            "formats": self.formats,
            "fields": [&self.fields.id, &self.fields.text],
            "limit": self.limit,
            "shard": self.shard,
        })
        .to_string()
    }
}

/// Run the whole pipeline: map and merge in one process.
pub fn extract(opts: &ExtractOptions) -> Result<ExtractSummary> {
    let started = Instant::now();
    let mut times = StageTimes::default();
    let mapper = Mapper::load(&opts.map_settings())?;
    let run = mapper.run_record().clone();
    let fingerprint = opts.checkpoint_fingerprint(&run.fingerprint);
    let checkpoint_path = opts.out.join(CHECKPOINT);
    let (mut reducer, mut admission, resumed_at) =
        start_or_resume(opts, &fingerprint, &checkpoint_path)?;
    let (files, discover_errors) = discover(&opts.inputs);
    for e in discover_errors {
        // On resume these were written already; they still count as records for --shard.
        if let Some(e) = admission.stream_error(e)? {
            if resumed_at.is_none() {
                reducer.error(&e)?;
            }
        }
    }
    let known_total = files
        .iter()
        .all(|f| f.kind == InputKind::Text)
        .then_some(files.len() as u64);
    let progress = progress_bar(opts.progress, known_total);
    let mut stream = DocumentStream::new(files, opts.fields.clone());
    if let Some(n) = resumed_at {
        // What the checkpoint covers was written already; read past it.
        let timer = Timer::start();
        admission
            .skip(&mut stream, n)
            .with_context(|| format!("resuming in {}", opts.out.display()))?;
        timer.stop(&mut times, Stage::Read);
        progress.inc(reducer.counts.documents);
    }
    let mut last_checkpoint = Instant::now();
    let limit = opts.limit.unwrap_or(u64::MAX);
    let room = |documents: u64| (limit - documents).min(opts.chunk_docs as u64) as usize;
    let first = room(reducer.counts.documents);
    for_each_chunk(
        &mapper,
        &mut admission,
        &mut stream,
        &mut times,
        first,
        |records, table, docs, times, admission| {
            reducer.absorb_chunk(&records, table, times)?;
            progress.inc(docs as u64);
            if docs > 0 && last_checkpoint.elapsed() >= opts.checkpoint_every {
                let timer = Timer::start();
                save_checkpoint(&checkpoint_path, &fingerprint, &mut reducer, admission)?;
                timer.stop(times, Stage::Write);
                last_checkpoint = Instant::now();
            }
            Ok(room(reducer.counts.documents))
        },
    )?;
    progress.finish_and_clear();
    let engine = mapper.engine();
    let mut manifest = manifest_for(
        "extract",
        &run,
        opts.model.display().to_string(),
        opts.inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        opts.formats.files(opts.shard.is_some()),
        opts.threads,
    );
    manifest.shard = opts.shard.map(|s| s.to_string());
    manifest.batch_tokens = Some(opts.batch_tokens);
    manifest.backend_note = engine.backend_note().map(str::to_string);
    manifest.fields = opts.fields.clone();
    let mut summary = reducer.finish(&run, manifest, started, times)?;
    if checkpoint_path.exists() {
        fs::remove_file(&checkpoint_path)
            .with_context(|| format!("cannot remove {}", checkpoint_path.display()))?;
    }
    summary.out = opts.out.clone();
    if opts.formats.html {
        crate::report::write_report(&crate::report::ReportOptions::new(opts.out.clone()))?;
    }
    Ok(summary)
}

/// A fresh run (new output files), or the state a checkpoint saved and how many documents it
/// had consumed.
fn start_or_resume(
    opts: &ExtractOptions,
    fingerprint: &str,
    checkpoint_path: &Path,
) -> Result<(Reducer, Admission, Option<u64>)> {
    let part = opts.shard.is_some();
    let resumed = if opts.resume {
        read_checkpoint(checkpoint_path, fingerprint)?
    } else {
        None
    };
    Ok(match resumed {
        Some(c) => (
            Reducer::new(
                Exporter::resume(&opts.out, opts.formats, part, &c.streams)?,
                c.counts,
                c.table,
            ),
            Admission::resume(opts.strict, opts.shard, c.seen_ids, c.consumed),
            Some(c.consumed),
        ),
        None => {
            let exporter = Exporter::create(&opts.out, opts.formats, part)?;
            if checkpoint_path.exists() {
                fs::remove_file(checkpoint_path)?;
            }
            (
                Reducer::new(exporter, Counts::default(), EntityTable::default()),
                Admission::new(opts.strict, opts.shard),
                None,
            )
        }
    })
}

fn save_checkpoint(
    path: &Path,
    fingerprint: &str,
    reducer: &mut Reducer,
    admission: &Admission,
) -> Result<()> {
    let c = Checkpoint {
        fingerprint: fingerprint.to_string(),
        consumed: admission.consumed,
        counts: reducer.counts.clone(),
        streams: reducer.exporter.flush_streams()?,
        table: &reducer.table,
        seen_ids: admission.seen_sorted(),
    };
    write_checkpoint(path, &c)
}

/// The read → admit → map loop of `extract` and `map`: each chunk's records (input order),
/// table and number of documents go to `each`, which returns how many documents the next
/// chunk may take (`room`: 0 ends the run). The last call has the errors after the last
/// document and no documents.
fn for_each_chunk(
    mapper: &Mapper,
    admission: &mut Admission,
    stream: &mut DocumentStream,
    times: &mut StageTimes,
    mut room: usize,
    mut each: impl FnMut(Vec<Record>, EntityTable, usize, &mut StageTimes, &Admission) -> Result<usize>,
) -> Result<()> {
    let mut admitted = Vec::new();
    let mut chunk = Vec::new();
    loop {
        let timer = Timer::start();
        let n = admission.read_chunk(stream, room, &mut admitted)?;
        timer.stop(times, Stage::Read);
        let order = split_admitted(&mut admitted, &mut chunk);
        let mapped = if n == 0 {
            MappedChunk::default()
        } else {
            mapper.map_chunk(&chunk, times)?
        };
        let (records, table) = mapped.into_records(order);
        room = each(records, table, n, times, admission)?;
        if n == 0 {
            return Ok(());
        }
        crate::memory::release_free_memory();
    }
}

/// Move the admitted documents into `chunk`; returns the input order (errors where they
/// came, `None` for each document) for [`MappedChunk::into_records`].
fn split_admitted(
    admitted: &mut Vec<Admitted>,
    chunk: &mut Vec<Document>,
) -> Vec<Option<ErrorRecord>> {
    chunk.clear();
    admitted
        .drain(..)
        .map(|a| match a {
            Admitted::Doc(d) => {
                chunk.push(d);
                None
            }
            Admitted::Error(e) => Some(e),
        })
        .collect()
}

/// Everything `biotable map` takes.
#[derive(Debug, Clone)]
pub struct MapOptions {
    pub settings: MapSettings,
    /// JSONL inputs (`-`: stdin).
    pub inputs: Vec<PathBuf>,
    pub fields: FieldNames,
    pub chunk_docs: usize,
}

/// What `biotable map` did.
#[derive(Debug, Clone, Default)]
pub struct MapSummary {
    pub documents: u64,
    pub mentions: u64,
    pub errors: u64,
}

/// `biotable map`: typed records on `out`, one JSON object per line: mentions, documents
/// and errors as documents stream, then the partial entities and pairs and the run record.
/// A bad record becomes an `error` record; the same input gives the same bytes.
pub fn map(opts: &MapOptions, out: &mut dyn Write) -> Result<MapSummary> {
    let mapper = Mapper::load(&opts.settings)?;
    map_with(&mapper, opts, out)
}

/// [`map`] with a loaded mapper (tests map many parts with one).
pub fn map_with(mapper: &Mapper, opts: &MapOptions, out: &mut dyn Write) -> Result<MapSummary> {
    let mut out = RecordWriter::new(std::io::BufWriter::with_capacity(1 << 16, out));
    let mut times = StageTimes::default();
    let mut admission = Admission::new(false, None);
    let mut table = EntityTable::default();
    let mut summary = MapSummary::default();
    let (files, discover_errors) = discover(&opts.inputs);
    for e in discover_errors {
        summary.errors += 1;
        out.write(&Record::Error(admission.report(e)?))?;
    }
    let mut stream = DocumentStream::new(files, opts.fields.clone());
    let room = opts.chunk_docs.max(1);
    for_each_chunk(
        mapper,
        &mut admission,
        &mut stream,
        &mut times,
        room,
        |records, chunk_table, _, _, _| {
            for r in &records {
                match r {
                    Record::Mention(_) => summary.mentions += 1,
                    Record::Document(_) => summary.documents += 1,
                    _ => summary.errors += 1,
                }
                out.write(r)?;
            }
            table.absorb(chunk_table)?;
            Ok(room)
        },
    )?;
    out.finish_part(&table, mapper.run_record())?;
    Ok(summary)
}

fn progress_bar(enabled: bool, total: Option<u64>) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} docs {per_sec} ETA {eta}")
                .expect("valid template"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {pos} docs {per_sec} [{elapsed}]")
                .expect("valid template"),
        ),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar
}

/// The bundled model folder: `models/biotable-ner` beside the executable's repository, or in
/// the current folder.
pub fn default_model_dir() -> PathBuf {
    let local = Path::new("models/biotable-ner");
    if local.is_dir() {
        return local.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/biotable-ner")
}
