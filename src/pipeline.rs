//! `extract`: stream documents through ingest → segment → ner → normalize → table → export.
//!
//! Documents are read in chunks (`chunk_docs`); within a chunk, splitting, tokenizing and
//! decoding run in parallel (rayon) and the model runs length-sorted, token-budget batches.
//! Rows are written in input order as each chunk finishes, so memory holds one chunk plus the
//! aggregated entity table, whatever the corpus size. Output is deterministic.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::export::{DocumentRow, Exporter, Formats, MentionRow};
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
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
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
        },
    )?;
    let normalizer = opts.link.then(|| Normalizer::new(Lexicon::bundled()));
    let mut exporter = Exporter::create(&opts.out, opts.formats)?;
    let (files, discover_errors) = discover(&opts.inputs);
    let mut counts = Counts::default();
    let mut first_errors = Vec::new();
    let mut record_error =
        |e: IngestError, exporter: &mut Exporter, counts: &mut Counts| -> Result<()> {
            tracing::warn!("{e}");
            counts.errors += 1;
            if first_errors.len() < 3 {
                first_errors.push(e.clone());
            }
            exporter.error(&e)
        };
    for e in discover_errors {
        record_error(e, &mut exporter, &mut counts)?;
    }

    let known_total = files
        .iter()
        .all(|f| f.kind == InputKind::Text)
        .then_some(files.len() as u64);
    let progress = progress_bar(opts.progress, known_total);
    let mut table = EntityTable::default();
    let mut stream = DocumentStream::new(files, opts.fields.clone());
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
                Record::Doc(d) => {
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
    }
    progress.finish_and_clear();

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
    };
    let files = exporter.finish(&rows, &pairs, &manifest)?;
    Ok(ExtractSummary {
        out: opts.out.clone(),
        files,
        manifest,
        first_errors,
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
