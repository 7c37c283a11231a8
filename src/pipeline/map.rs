//! The map stage: documents in, records out. Annotate (split, tokenize, model, decode), link
//! and aggregate one chunk of documents into mention and document rows and a partial
//! [`EntityTable`]. `extract` hands these to its merge stage in memory; `biotable map`
//! writes them as JSONL for `biotable merge` (Spark's map side).

use std::borrow::Cow;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::export::round4;
use crate::ner::model::ModelDir;
use crate::ner::{BackendChoice, DocAnnotation, NerEngine, NerOptions};
use crate::normalize::lexicon::{Concept, Lexicon};
use crate::normalize::{EntityKey, Linked, Normalizer};
use crate::profile::{Stage, StageTimes, Timer};
use crate::records::{DocumentRecord, ErrorRecord, MentionRecord, Record, RunRecord};
use crate::table::{EntityTable, MentionEntity};
use crate::types::{Document, EntityId};

/// The settings that shape what a document gives.
#[derive(Debug, Clone)]
pub struct MapSettings {
    pub model: std::path::PathBuf,
    pub batch_tokens: usize,
    pub threads: usize,
    pub backend: BackendChoice,
    /// Link mentions to the bundled lexicon.
    pub link: bool,
}

/// What one chunk of documents gives.
#[derive(Debug, Default)]
pub struct MappedChunk {
    /// In document order, then mention order.
    pub mentions: Vec<MentionRecord>,
    pub documents: Vec<DocumentRecord>,
    /// The chunk's entities and co-occurrences.
    pub table: EntityTable,
}

impl MappedChunk {
    /// The chunk's rows as records in input order: `order` holds the chunk's errors where
    /// they came, and `None` where each of its documents came (that document's mentions, then
    /// its document record). Also the chunk's table.
    pub fn into_records(self, order: Vec<Option<ErrorRecord>>) -> (Vec<Record>, EntityTable) {
        let mut records = Vec::with_capacity(order.len() + self.mentions.len());
        let mut mentions = self.mentions.into_iter();
        let mut documents = self.documents.into_iter();
        for item in order {
            match item {
                Some(e) => records.push(Record::Error(e)),
                None => {
                    let d = documents.next().expect("a document record per document");
                    records.extend(
                        mentions
                            .by_ref()
                            .take(d.mentions as usize)
                            .map(Record::Mention),
                    );
                    records.push(Record::Document(d));
                }
            }
        }
        debug_assert!(documents.next().is_none() && mentions.next().is_none());
        (records, self.table)
    }
}

/// The engine, linker and worker threads of a run.
pub struct Mapper {
    engine: NerEngine,
    normalizer: Option<Normalizer<'static>>,
    pool: rayon::ThreadPool,
    run: RunRecord,
}

impl Mapper {
    pub fn load(s: &MapSettings) -> Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(s.threads.max(1))
            .build()
            .context("starting worker threads")?;
        let dir = ModelDir(s.model.clone());
        let engine = NerEngine::load(
            &dir,
            NerOptions {
                batch_tokens: s.batch_tokens,
                backend: s.backend,
                threads: s.threads.max(1),
                ..NerOptions::default()
            },
        )?;
        let normalizer = s.link.then(|| Normalizer::new(Lexicon::bundled()));
        let config = engine.config();
        let run = RunRecord {
            fingerprint: fingerprint(&dir, &engine, s.link)?,
            version: env!("CARGO_PKG_VERSION").to_string(),
            model: config.name.clone(),
            model_description: config.description.clone(),
            labels: config.labels.clone(),
            backend: engine.engine(),
            link: s.link,
        };
        Ok(Mapper {
            engine,
            normalizer,
            pool,
            run,
        })
    }

    pub fn engine(&self) -> &NerEngine {
        &self.engine
    }

    /// The model and settings, as parts record them.
    pub fn run_record(&self) -> &RunRecord {
        &self.run
    }

    /// Annotate, link and aggregate a chunk of documents.
    pub fn map_chunk(&self, docs: &[Document], times: &mut StageTimes) -> Result<MappedChunk> {
        let annotations = self
            .pool
            .install(|| self.engine.annotate_timed(docs, times))?;
        let linked = times.time(Stage::Link, || {
            self.pool
                .install(|| link_chunk(self.normalizer.as_ref(), docs, &annotations))
        });
        let timer = Timer::start();
        let chunk = self.aggregate(docs, &annotations, &linked)?;
        timer.stop(times, Stage::Aggregate);
        Ok(chunk)
    }

    /// Mention and document rows, and the chunk's table (documents numbered from 0).
    fn aggregate(
        &self,
        docs: &[Document],
        annotations: &[DocAnnotation],
        linked: &[Vec<Linked>],
    ) -> Result<MappedChunk> {
        let lexicon = self.normalizer.as_ref().map(Normalizer::lexicon);
        let mut out = MappedChunk::default();
        for (doc_no, ((doc, ann), links)) in docs.iter().zip(annotations).zip(linked).enumerate() {
            let doc_no = doc_no as u64;
            let mut sentence_entities: Vec<EntityId> = Vec::new();
            let mut current_sentence = usize::MAX;
            for ((sentence, m), l) in ann.mentions.iter().zip(links) {
                if *sentence != current_sentence {
                    out.table.add_sentence(&sentence_entities, doc_no, &doc.id);
                    sentence_entities.clear();
                    current_sentence = *sentence;
                }
                let concept: Option<&Concept> =
                    l.link.zip(lexicon).map(|(k, lex)| lex.concept(k.concept));
                let key = entity_key(l, concept);
                let id = out.table.add(
                    MentionEntity {
                        key: &key,
                        label: l.label,
                        name: concept.map_or(l.name.as_str(), |c| c.name.as_str()),
                        concept,
                        surface: &m.text,
                    },
                    doc_no,
                    &doc.id,
                )?;
                sentence_entities.push(id);
                out.mentions.push(MentionRecord {
                    doc_id: doc.id.clone(),
                    start: m.span.start as u64,
                    end: m.span.end as u64,
                    text: m.text.clone(),
                    label: l.label,
                    score: round4(m.score),
                    sentence: *sentence as u64,
                    entity_id: id,
                    concept_id: concept.map(|c| c.id.clone()),
                    concept_name: concept.map(|c| c.name.clone()),
                    ontology: concept.map(|c| c.ontology),
                    link_score: l.link.map(|k| round4(k.score)),
                });
            }
            out.table.add_sentence(&sentence_entities, doc_no, &doc.id);
            out.documents.push(DocumentRecord {
                doc_id: doc.id.clone(),
                source: doc.source.to_string(),
                chars: doc.text.chars().count() as u64,
                words: ann.words as u64,
                sentences: ann.sentences.len() as u64,
                mentions: ann.mentions.len() as u64,
                model_tokens: ann.model_tokens as u64,
            });
        }
        Ok(out)
    }
}

/// The stable key of an entity: its concept id when linked, else label and matching key.
pub fn entity_key<'a>(l: &'a Linked, concept: Option<&'a Concept>) -> Cow<'a, str> {
    match (concept, &l.key) {
        (Some(c), _) => Cow::Borrowed(c.id.as_str()),
        (None, EntityKey::Name { label, key }) => Cow::Owned(format!("{label}:{key}")),
        // A concept key without the lexicon cannot happen (linking needs the lexicon).
        (None, EntityKey::Concept(i)) => Cow::Owned(format!("{}:#{i}", l.label)),
    }
}

/// Normalize every mention of a chunk (in parallel over documents).
fn link_chunk(
    normalizer: Option<&Normalizer>,
    chunk: &[Document],
    annotations: &[DocAnnotation],
) -> Vec<Vec<Linked>> {
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

/// What makes two parts mergeable: the model folder's contents (every file but its README),
/// the labels, linking, the engine and biotable's version, hashed (XXH3-128).
fn fingerprint(dir: &ModelDir, engine: &NerEngine, link: bool) -> Result<String> {
    let mut names: Vec<_> = fs::read_dir(&dir.0)
        .with_context(|| format!("cannot read model folder {}", dir.0.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".md"))
        .collect();
    names.sort();
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for name in &names {
        let bytes = fs::read(Path::new(&dir.0).join(name))?;
        h.update(name.as_bytes());
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    let settings = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "labels": engine.config().labels,
        "link": link,
        "backend": engine.engine(),
    });
    h.update(settings.to_string().as_bytes());
    Ok(format!("{:032x}", h.digest128()))
}
