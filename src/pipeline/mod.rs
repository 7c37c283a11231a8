//! `extract`: stream documents through ingest → segment → ner → normalize → table → export.
//!
//! Documents are read in chunks (`chunk_docs`); within a chunk, splitting, tokenizing and
//! decoding run in parallel (rayon) and the model runs length-sorted, token-budget batches.
//! Rows are written in input order as each chunk finishes, so memory holds one chunk plus the
//! aggregated entity table, whatever the corpus size. Output is deterministic.

mod checkpoint;
mod manifest;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub use self::checkpoint::CHECKPOINT;
use self::checkpoint::{read_checkpoint, write_checkpoint, Checkpoint};
use self::manifest::mebibytes;
pub use self::manifest::{Counts, ExtractSummary, Manifest, MemoryReport, ModelInfo, Throughput};
use crate::export::{DocumentRow, Exporter, Formats, MentionRow};
use crate::ingest::{discover, DocumentStream, FieldNames, IngestError, InputKind, Record};
use crate::ner::model::ModelDir;
use crate::ner::{BackendChoice, DocAnnotation, NerEngine, NerOptions};
use crate::normalize::lexicon::Lexicon;
use crate::normalize::{Linked, Normalizer};
use crate::profile::{Stage, StageTimes, Timer};
use crate::table::{entity_id, EntityTable, MentionEntity};
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
}

fn fingerprint(opts: &ExtractOptions) -> String {
    serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "inputs": opts.inputs,
        "model": opts.model,
        "formats": [opts.formats.csv, opts.formats.jsonl, opts.formats.json],
        "link": opts.link,
        "fields": [&opts.fields.id, &opts.fields.text],
        "limit": opts.limit,
        "backend": format!("{:?}", opts.backend),
    })
    .to_string()
}

fn id_hash(id: &str) -> u64 {
    ahash::RandomState::with_seeds(1, 2, 3, 4).hash_one(id)
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
        }
    }
}

/// Bad records: logged, counted, listed in errors.csv; fatal with `--strict`.
struct ErrorLog {
    strict: bool,
    /// The first few, for the one-line summary.
    first: Vec<IngestError>,
}

impl ErrorLog {
    fn record(
        &mut self,
        e: IngestError,
        exporter: &mut Exporter,
        counts: &mut Counts,
    ) -> Result<()> {
        if self.strict {
            bail!("stopped at the first bad record (--strict): {e}");
        }
        tracing::warn!("{e}");
        counts.errors += 1;
        if self.first.len() < 3 {
            self.first.push(e.clone());
        }
        exporter.error(&e)
    }
}

/// Everything a run carries from chunk to chunk (and a checkpoint saves).
struct RunState {
    exporter: Exporter,
    counts: Counts,
    table: EntityTable,
    /// Hashes of the document ids seen (to rename duplicates).
    seen_ids: HashSet<u64>,
    /// Documents taken from the input stream (processed, empty or renamed).
    consumed: u64,
    errors: ErrorLog,
}

/// Run the whole pipeline.
pub fn extract(opts: &ExtractOptions) -> Result<ExtractSummary> {
    let started = Instant::now();
    let mut times = StageTimes::default();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .context("starting worker threads")?;
    let engine = NerEngine::load(
        &ModelDir(opts.model.clone()),
        NerOptions {
            batch_tokens: opts.batch_tokens,
            backend: opts.backend,
            threads: opts.threads.max(1),
            ..NerOptions::default()
        },
    )?;
    let normalizer = opts.link.then(|| Normalizer::new(Lexicon::bundled()));
    let fingerprint = fingerprint(opts);
    let checkpoint_path = opts.out.join(CHECKPOINT);
    let (mut run, resumed_at) = start_or_resume(opts, &fingerprint, &checkpoint_path)?;
    let (files, discover_errors) = discover(&opts.inputs);
    if resumed_at.is_none() {
        for e in discover_errors {
            run.errors.record(e, &mut run.exporter, &mut run.counts)?;
        }
    }
    let known_total = files
        .iter()
        .all(|f| f.kind == InputKind::Text)
        .then_some(files.len() as u64);
    let progress = progress_bar(opts.progress, known_total);
    let mut stream = DocumentStream::new(files, opts.fields.clone());
    // Resuming: what the checkpoint covers was written already; read past it.
    if let Some(n) = resumed_at {
        let timer = Timer::start();
        let mut skipped = 0;
        while skipped < n {
            match stream.next() {
                Some(Record::Doc(_)) => skipped += 1,
                Some(Record::Error(_)) => {}
                None => bail!("the inputs have fewer documents than the checkpoint in {} (run without --resume)", opts.out.display()),
            }
        }
        timer.stop(&mut times, Stage::Read);
        progress.inc(run.counts.documents);
    }
    let mut last_checkpoint = Instant::now();
    let mut chunk: Vec<Document> = Vec::with_capacity(opts.chunk_docs);
    let limit = opts.limit.unwrap_or(u64::MAX);
    loop {
        let room = (limit - run.counts.documents).min(opts.chunk_docs as u64) as usize;
        let timer = Timer::start();
        read_chunk(&mut stream, room, &mut chunk, &mut run)?;
        timer.stop(&mut times, Stage::Read);
        if chunk.is_empty() {
            break;
        }
        let annotations = pool.install(|| engine.annotate_timed(&chunk, &mut times))?;
        let linked = times.time(Stage::Link, || {
            pool.install(|| link_chunk(normalizer.as_ref(), &chunk, &annotations))
        });
        record_chunk(
            &chunk,
            &annotations,
            &linked,
            normalizer.as_ref(),
            &mut run,
            &mut times,
        )?;
        progress.inc(chunk.len() as u64);
        crate::memory::release_free_memory();
        if last_checkpoint.elapsed() >= opts.checkpoint_every {
            let timer = Timer::start();
            save_checkpoint(&checkpoint_path, &fingerprint, &mut run)?;
            timer.stop(&mut times, Stage::Write);
            last_checkpoint = Instant::now();
        }
    }
    progress.finish_and_clear();
    finish(opts, &engine, run, &checkpoint_path, started, times)
}

/// A fresh run (new output files), or the state a checkpoint saved and how many documents it
/// had consumed.
fn start_or_resume(
    opts: &ExtractOptions,
    fingerprint: &str,
    checkpoint_path: &Path,
) -> Result<(RunState, Option<u64>)> {
    let errors = ErrorLog {
        strict: opts.strict,
        first: Vec::new(),
    };
    let resumed = if opts.resume {
        read_checkpoint(checkpoint_path, fingerprint)?
    } else {
        None
    };
    Ok(match resumed {
        Some(c) => (
            RunState {
                exporter: Exporter::resume(&opts.out, opts.formats, &c.streams)?,
                counts: c.counts,
                table: c.table,
                seen_ids: c.seen_ids.into_iter().collect(),
                consumed: c.consumed,
                errors,
            },
            Some(c.consumed),
        ),
        None => {
            let exporter = Exporter::create(&opts.out, opts.formats)?;
            if checkpoint_path.exists() {
                fs::remove_file(checkpoint_path)?;
            }
            (
                RunState {
                    exporter,
                    counts: Counts::default(),
                    table: EntityTable::default(),
                    seen_ids: HashSet::new(),
                    consumed: 0,
                    errors,
                },
                None,
            )
        }
    })
}

/// Stage read: fill `chunk` with up to `room` documents, skipping empty ones and renaming
/// duplicate ids (both recorded as errors).
fn read_chunk(
    stream: &mut DocumentStream,
    room: usize,
    chunk: &mut Vec<Document>,
    run: &mut RunState,
) -> Result<()> {
    chunk.clear();
    if room == 0 {
        return Ok(());
    }
    for record in stream.by_ref() {
        match record {
            Record::Doc(mut d) => {
                run.consumed += 1;
                if d.text.trim().is_empty() {
                    let e = IngestError {
                        file: d.source.path.clone(),
                        line: d.source.line,
                        reason: format!("empty text (document {:?} skipped)", d.id),
                    };
                    run.errors.record(e, &mut run.exporter, &mut run.counts)?;
                    continue;
                }
                if !run.seen_ids.insert(id_hash(&d.id)) {
                    let renamed = (2..)
                        .map(|k| format!("{}#{k}", d.id))
                        .find(|r| !run.seen_ids.contains(&id_hash(r)))
                        .expect("some suffix is free");
                    run.seen_ids.insert(id_hash(&renamed));
                    let e = IngestError {
                        file: d.source.path.clone(),
                        line: d.source.line,
                        reason: format!("duplicate doc_id {:?}: kept as {renamed:?}", d.id),
                    };
                    run.errors.record(e, &mut run.exporter, &mut run.counts)?;
                    d.id = renamed;
                }
                chunk.push(d);
                if chunk.len() == room {
                    break;
                }
            }
            Record::Error(e) => run.errors.record(e, &mut run.exporter, &mut run.counts)?,
        }
    }
    Ok(())
}

/// Stage link: normalize every mention of the chunk (in parallel over documents).
fn link_chunk(
    normalizer: Option<&Normalizer>,
    chunk: &[Document],
    annotations: &[DocAnnotation],
) -> Vec<Vec<Linked>> {
    use rayon::prelude::*;
    chunk
        .par_iter()
        .zip(annotations)
        .map(|(doc, ann)| {
            let mentions = ann.mentions.iter().map(|(_, m)| m);
            match normalizer {
                Some(n) => n.document(&doc.text, mentions),
                None => mentions.map(Normalizer::unlinked).collect(),
            }
        })
        .collect()
}

/// Stages aggregate and write: add the chunk's mentions to the entity table (in input order),
/// then write its mention and document rows.
fn record_chunk(
    chunk: &[Document],
    annotations: &[DocAnnotation],
    linked: &[Vec<Linked>],
    normalizer: Option<&Normalizer>,
    run: &mut RunState,
    times: &mut StageTimes,
) -> Result<()> {
    let concept = |l: &Linked| {
        l.link
            .zip(normalizer)
            .map(|(k, n)| n.lexicon().concept(k.concept))
    };
    // Aggregate: entity index of every mention, document by document.
    let timer = Timer::start();
    let mut entity_of: Vec<Vec<usize>> = Vec::with_capacity(chunk.len());
    for ((doc, ann), links) in chunk.iter().zip(annotations).zip(linked) {
        let doc_no = run.counts.documents;
        let counts = &mut run.counts;
        counts.documents += 1;
        counts.sentences += ann.sentences.len() as u64;
        counts.words += ann.words as u64;
        counts.model_tokens += ann.model_tokens as u64;
        counts.mentions += ann.mentions.len() as u64;
        let mut indices = Vec::with_capacity(ann.mentions.len());
        let mut sentence_entities: Vec<usize> = Vec::new();
        let mut current_sentence = usize::MAX;
        for ((sentence, m), l) in ann.mentions.iter().zip(links) {
            if *sentence != current_sentence {
                run.table.add_sentence(&sentence_entities, doc_no, &doc.id);
                sentence_entities.clear();
                current_sentence = *sentence;
            }
            let concept = concept(l);
            counts.linked_mentions += u64::from(concept.is_some());
            let index = run.table.add(
                MentionEntity {
                    key: l.key.clone(),
                    label: l.label,
                    name: concept.map_or(l.name.as_str(), |c| c.name.as_str()),
                    concept,
                    surface: &m.text,
                },
                doc_no,
                &doc.id,
            );
            sentence_entities.push(index);
            indices.push(index);
        }
        run.table.add_sentence(&sentence_entities, doc_no, &doc.id);
        entity_of.push(indices);
    }
    timer.stop(times, Stage::Aggregate);

    let timer = Timer::start();
    for (((doc, ann), links), indices) in chunk.iter().zip(annotations).zip(linked).zip(&entity_of)
    {
        for (((sentence, m), l), &index) in ann.mentions.iter().zip(links).zip(indices) {
            let id = entity_id(index);
            run.exporter
                .mention(&MentionRow::new(doc, m, *sentence, l, concept(l), &id))?;
        }
        run.exporter.document(&DocumentRow {
            doc_id: &doc.id,
            source: doc.source.to_string(),
            chars: doc.text.chars().count(),
            sentences: ann.sentences.len(),
            mentions: ann.mentions.len(),
        })?;
    }
    timer.stop(times, Stage::Write);
    Ok(())
}

fn save_checkpoint(path: &Path, fingerprint: &str, run: &mut RunState) -> Result<()> {
    let mut ids: Vec<u64> = run.seen_ids.iter().copied().collect();
    ids.sort_unstable();
    let c = Checkpoint {
        fingerprint: fingerprint.to_string(),
        consumed: run.consumed,
        counts: run.counts.clone(),
        streams: run.exporter.flush_streams()?,
        table: &run.table,
        seen_ids: ids,
    };
    write_checkpoint(path, &c)
}

/// Write the aggregated tables and the manifest; remove the checkpoint.
fn finish(
    opts: &ExtractOptions,
    engine: &NerEngine,
    run: RunState,
    checkpoint_path: &Path,
    started: Instant,
    mut times: StageTimes,
) -> Result<ExtractSummary> {
    let RunState {
        exporter,
        mut counts,
        table,
        errors,
        ..
    } = run;
    let memory = MemoryReport {
        streaming_peak_rss_mib: crate::memory::resident().map(|r| mebibytes(r.peak_bytes)),
        peak_rss_mib: None,
        table_mib: mebibytes(table.heap_bytes() as u64),
    };
    tracing::info!(
        documents = counts.documents,
        entities = table.len(),
        pairs = table.pair_count(),
        table_mib = memory.table_mib,
        streaming_peak_rss_mib = memory.streaming_peak_rss_mib,
        "documents done; writing the tables"
    );
    let timer = Timer::start();
    let rows = table.rows();
    let pairs = table.pair_rows();
    timer.stop(&mut times, Stage::Aggregate);
    counts.entities = rows.len() as u64;
    counts.cooccurrences = pairs.len() as u64;
    let config = engine.config();
    let manifest = Manifest {
        tool: "biotable",
        version: env!("CARGO_PKG_VERSION"),
        model: ModelInfo {
            name: config.name.clone(),
            path: opts.model.display().to_string(),
            description: config.description.clone(),
        },
        labels: config.labels.clone(),
        inputs: opts
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        files: output_files(opts.formats),
        throughput: Throughput {
            documents_per_second: 0.0,
            words_per_second: 0.0,
            model_tokens_per_second: 0.0,
        },
        counts,
        elapsed_seconds: 0.0,
        threads: opts.threads,
        batch_tokens: opts.batch_tokens,
        backend: engine.engine(),
        backend_note: engine.backend_note().map(str::to_string),
        memory,
        stages: Vec::new(),
    };
    // The manifest is written last, so its peak, time and stages cover the export of the
    // tables.
    let write_started = Timer::start();
    let (files, manifest) = exporter.finish(&rows, &pairs, move || {
        let mut m = manifest;
        write_started.stop(&mut times, Stage::Write);
        let elapsed = started.elapsed().as_secs_f64();
        let per_s = |n: u64| {
            if elapsed > 0.0 {
                n as f64 / elapsed
            } else {
                0.0
            }
        };
        m.throughput = Throughput {
            documents_per_second: per_s(m.counts.documents),
            words_per_second: per_s(m.counts.words),
            model_tokens_per_second: per_s(m.counts.model_tokens),
        };
        m.elapsed_seconds = elapsed;
        m.stages = times.rows();
        m.memory.peak_rss_mib = crate::memory::resident().map(|r| mebibytes(r.peak_bytes));
        m
    })?;
    if checkpoint_path.exists() {
        fs::remove_file(checkpoint_path)
            .with_context(|| format!("cannot remove {}", checkpoint_path.display()))?;
    }
    Ok(ExtractSummary {
        out: opts.out.clone(),
        files,
        manifest,
        first_errors: errors.first,
    })
}

fn output_files(f: Formats) -> Vec<String> {
    let mut v = Vec::new();
    if f.csv {
        v.extend([
            "mentions.csv",
            "entities.csv",
            "cooccurrences.csv",
            "documents.csv",
            "errors.csv",
        ]);
    }
    if f.jsonl {
        v.push("mentions.jsonl");
    }
    if f.json {
        v.extend(["entities.json", "knowledge.json"]);
    }
    v.push("manifest.json");
    v.into_iter().map(String::from).collect()
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
