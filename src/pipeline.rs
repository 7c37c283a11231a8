//! `extract`: stream documents through ingest → segment → ner → normalize → table → export.
//!
//! Documents are read in chunks (`chunk_docs`); within a chunk, splitting, tokenizing and
//! decoding run in parallel (rayon) and the model runs length-sorted, token-budget batches.
//! Rows are written in input order as each chunk finishes, so memory holds one chunk plus the
//! aggregated entity table, whatever the corpus size. Output is deterministic.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::export::{DocumentRow, Exporter, Formats, MentionRow, StreamLengths};
use crate::ingest::{discover, DocumentStream, FieldNames, IngestError, InputKind, Record};
use crate::ner::model::ModelDir;
use crate::ner::{NerEngine, NerOptions};
use crate::normalize::lexicon::Lexicon;
use crate::normalize::{Linked, Normalizer};
use crate::table::{entity_id, EntityTable, MentionEntity};
use crate::types::{Document, EntityLabel};

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
}

/// The checkpoint file in the output folder, present only while a run is unfinished.
pub const CHECKPOINT: &str = "checkpoint.json";

/// What `--resume` needs to go on exactly where a run stopped. `T` is the table: borrowed
/// when writing (no copy of it is made), owned when reading.
#[derive(Serialize, Deserialize)]
struct Checkpoint<T> {
    /// The arguments that shape the output; a resume must use the same.
    fingerprint: String,
    /// Documents taken from the input stream (processed, empty or renamed).
    consumed: u64,
    counts: Counts,
    streams: StreamLengths,
    table: T,
    /// Hashes of the document ids seen (to rename duplicates).
    seen_ids: Vec<u64>,
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
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    pub documents: u64,
    pub sentences: u64,
    pub words: u64,
    pub model_tokens: u64,
    pub mentions: u64,
    pub linked_mentions: u64,
    pub entities: u64,
    pub cooccurrences: u64,
    pub errors: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub documents_per_second: f64,
    pub words_per_second: f64,
    pub model_tokens_per_second: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub path: String,
    pub description: String,
}

/// Memory use, for sizing machines. Resident-set figures are read from `/proc` (Linux) and
/// absent elsewhere.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    /// Peak resident set while the documents streamed (model, one chunk, the tables).
    pub streaming_peak_rss_mib: Option<f64>,
    /// Peak resident set of the whole run, the export of the tables included.
    pub peak_rss_mib: Option<f64>,
    /// Estimated heap held by the aggregated entity and co-occurrence tables at the end.
    pub table_mib: f64,
}

/// Bytes in MiB (2^20 bytes, the unit of `/usr/bin/time -v`'s kbytes / 1024), one decimal.
fn mebibytes(bytes: u64) -> f64 {
    (bytes as f64 / (1u64 << 20) as f64 * 10.0).round() / 10.0
}

/// manifest.json
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub tool: &'static str,
    pub version: &'static str,
    pub model: ModelInfo,
    pub labels: Vec<EntityLabel>,
    pub inputs: Vec<String>,
    pub files: Vec<String>,
    pub counts: Counts,
    pub elapsed_seconds: f64,
    pub throughput: Throughput,
    pub threads: usize,
    pub batch_tokens: usize,
    pub memory: MemoryReport,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct ExtractSummary {
    pub out: PathBuf,
    pub files: Vec<PathBuf>,
    pub manifest: Manifest,
    /// The first few errors, for the one-line summary.
    pub first_errors: Vec<IngestError>,
}

/// Run the whole pipeline.
pub fn extract(opts: &ExtractOptions) -> Result<ExtractSummary> {
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .context("starting worker threads")?;
    tch::set_num_threads(opts.threads.max(1) as i32);
    let engine = NerEngine::load(
        &ModelDir(opts.model.clone()),
        NerOptions {
            batch_tokens: opts.batch_tokens,
            ..NerOptions::default()
        },
    )?;
    let normalizer = opts.link.then(|| Normalizer::new(Lexicon::bundled()));
    let fingerprint = fingerprint(opts);
    let checkpoint_path = opts.out.join(CHECKPOINT);
    let resumed = if opts.resume {
        read_checkpoint(&checkpoint_path, &fingerprint)?
    } else {
        None
    };
    let (mut exporter, mut counts, mut table, mut seen_ids, consumed) = match resumed {
        Some(c) => (
            Exporter::resume(&opts.out, opts.formats, &c.streams)?,
            c.counts,
            c.table,
            c.seen_ids.into_iter().collect::<HashSet<u64>>(),
            Some(c.consumed),
        ),
        None => {
            let ex = Exporter::create(&opts.out, opts.formats)?;
            if checkpoint_path.exists() {
                fs::remove_file(&checkpoint_path)?;
            }
            (
                ex,
                Counts::default(),
                EntityTable::default(),
                HashSet::new(),
                None,
            )
        }
    };
    let resuming = consumed.is_some();
    let (files, discover_errors) = discover(&opts.inputs);
    let mut first_errors = Vec::new();
    let mut record_error =
        |e: IngestError, exporter: &mut Exporter, counts: &mut Counts| -> Result<()> {
            if opts.strict {
                bail!("stopped at the first bad record (--strict): {e}");
            }
            tracing::warn!("{e}");
            counts.errors += 1;
            if first_errors.len() < 3 {
                first_errors.push(e.clone());
            }
            exporter.error(&e)
        };
    if !resuming {
        for e in discover_errors {
            record_error(e, &mut exporter, &mut counts)?;
        }
    }

    let known_total = files
        .iter()
        .all(|f| f.kind == InputKind::Text)
        .then_some(files.len() as u64);
    let progress = progress_bar(opts.progress, known_total);
    let mut stream = DocumentStream::new(files, opts.fields.clone());
    // Resuming: what the checkpoint covers was written already; read past it.
    if let Some(n) = consumed {
        let mut skipped = 0;
        while skipped < n {
            match stream.next() {
                Some(Record::Doc(_)) => skipped += 1,
                Some(Record::Error(_)) => {}
                None => bail!("the inputs have fewer documents than the checkpoint in {} (run without --resume)", opts.out.display()),
            }
        }
        progress.inc(counts.documents);
    }
    let mut consumed = consumed.unwrap_or(0);
    let mut last_checkpoint = Instant::now();
    let mut chunk: Vec<Document> = Vec::with_capacity(opts.chunk_docs);
    let limit = opts.limit.unwrap_or(u64::MAX);
    loop {
        chunk.clear();
        let room = (limit - counts.documents).min(opts.chunk_docs as u64) as usize;
        if room == 0 {
            break;
        }
        for record in stream.by_ref() {
            match record {
                Record::Doc(mut d) => {
                    consumed += 1;
                    if d.text.trim().is_empty() {
                        let e = IngestError {
                            file: d.source.path.clone(),
                            line: d.source.line,
                            reason: format!("empty text (document {:?} skipped)", d.id),
                        };
                        record_error(e, &mut exporter, &mut counts)?;
                        continue;
                    }
                    if !seen_ids.insert(id_hash(&d.id)) {
                        let renamed = (2..)
                            .map(|k| format!("{}#{k}", d.id))
                            .find(|r| !seen_ids.contains(&id_hash(r)))
                            .expect("some suffix is free");
                        seen_ids.insert(id_hash(&renamed));
                        let e = IngestError {
                            file: d.source.path.clone(),
                            line: d.source.line,
                            reason: format!("duplicate doc_id {:?}: kept as {renamed:?}", d.id),
                        };
                        record_error(e, &mut exporter, &mut counts)?;
                        d.id = renamed;
                    }
                    chunk.push(d);
                    if chunk.len() == room {
                        break;
                    }
                }
                Record::Error(e) => record_error(e, &mut exporter, &mut counts)?,
            }
        }
        if chunk.is_empty() {
            break;
        }
        let annotations = pool.install(|| engine.annotate(&chunk))?;
        let linked: Vec<Vec<Linked>> = pool.install(|| {
            use rayon::prelude::*;
            chunk
                .par_iter()
                .zip(&annotations)
                .map(|(doc, ann)| {
                    let mentions = ann.mentions.iter().map(|(_, m)| m);
                    match &normalizer {
                        Some(n) => n.document(&doc.text, mentions),
                        None => mentions.map(Normalizer::unlinked).collect(),
                    }
                })
                .collect()
        });
        for ((doc, ann), links) in chunk.iter().zip(&annotations).zip(&linked) {
            let doc_no = counts.documents;
            counts.documents += 1;
            counts.sentences += ann.sentences.len() as u64;
            counts.words += ann.words as u64;
            counts.model_tokens += ann.model_tokens as u64;
            counts.mentions += ann.mentions.len() as u64;
            let mut sentence_entities: Vec<usize> = Vec::new();
            let mut current_sentence = usize::MAX;
            for ((sentence, m), l) in ann.mentions.iter().zip(links) {
                if *sentence != current_sentence {
                    table.add_sentence(&sentence_entities, doc_no, &doc.id);
                    sentence_entities.clear();
                    current_sentence = *sentence;
                }
                let concept = l
                    .link
                    .zip(normalizer.as_ref())
                    .map(|(k, n)| n.lexicon().concept(k.concept));
                counts.linked_mentions += u64::from(concept.is_some());
                let index = table.add(
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
                let id = entity_id(index);
                exporter.mention(&MentionRow::new(doc, m, *sentence, l, concept, &id))?;
            }
            table.add_sentence(&sentence_entities, doc_no, &doc.id);
            exporter.document(&DocumentRow {
                doc_id: &doc.id,
                source: doc.source.to_string(),
                chars: doc.text.chars().count(),
                sentences: ann.sentences.len(),
                mentions: ann.mentions.len(),
            })?;
        }
        progress.inc(chunk.len() as u64);
        crate::memory::release_free_memory();
        if last_checkpoint.elapsed() >= opts.checkpoint_every {
            let mut ids: Vec<u64> = seen_ids.iter().copied().collect();
            ids.sort_unstable();
            let c = Checkpoint {
                fingerprint: fingerprint.clone(),
                consumed,
                counts: counts.clone(),
                streams: exporter.flush_streams()?,
                table: &table,
                seen_ids: ids,
            };
            write_checkpoint(&checkpoint_path, &c)?;
            last_checkpoint = Instant::now();
        }
    }
    progress.finish_and_clear();

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
    let rows = table.rows();
    let pairs = table.pair_rows();
    counts.entities = rows.len() as u64;
    counts.cooccurrences = pairs.len() as u64;
    let elapsed = started.elapsed().as_secs_f64();
    let per_s = |n: u64| {
        if elapsed > 0.0 {
            n as f64 / elapsed
        } else {
            0.0
        }
    };
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
            documents_per_second: per_s(counts.documents),
            words_per_second: per_s(counts.words),
            model_tokens_per_second: per_s(counts.model_tokens),
        },
        counts,
        elapsed_seconds: elapsed,
        threads: opts.threads,
        batch_tokens: opts.batch_tokens,
        memory,
    };
    // The manifest is written last, so its peak covers the export of the tables.
    let (files, manifest) = exporter.finish(&rows, &pairs, move || {
        let mut m = manifest;
        m.memory.peak_rss_mib = crate::memory::resident().map(|r| mebibytes(r.peak_bytes));
        m
    })?;
    if checkpoint_path.exists() {
        fs::remove_file(&checkpoint_path)
            .with_context(|| format!("cannot remove {}", checkpoint_path.display()))?;
    }
    Ok(ExtractSummary {
        out: opts.out.clone(),
        files,
        manifest,
        first_errors,
    })
}

fn read_checkpoint(path: &Path, fingerprint: &str) -> Result<Option<Checkpoint<EntityTable>>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "biotable: no checkpoint in {} (nothing to resume); starting from the beginning",
                path.parent().unwrap_or(path).display()
            );
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let c: Checkpoint<EntityTable> = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is damaged (run without --resume)", path.display()))?;
    if c.fingerprint != fingerprint {
        bail!(
            "the checkpoint in {} was made with other arguments (inputs, model, formats, fields, \
             --limit or --no-link); resume with the same ones, or run without --resume",
            path.parent().unwrap_or(path).display()
        );
    }
    Ok(Some(c))
}

/// Written under a temporary name and renamed: a kill leaves the old or the new checkpoint.
fn write_checkpoint(path: &Path, c: &Checkpoint<&EntityTable>) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let write = || -> Result<()> {
        let mut w = std::io::BufWriter::new(fs::File::create(&tmp)?);
        serde_json::to_writer(&mut w, c)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_data()?;
        Ok(())
    };
    write().with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
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
