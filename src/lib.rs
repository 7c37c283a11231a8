//! biotable: biomedical news and abstracts in, an analyst-ready knowledge table out.
//!
//! The pipeline runs in stages, one module each:
//! [`ingest`] (files, folders, JSONL, CSV, gzip → documents) → [`segment`] (sentences) →
//! [`ner`] (word pieces with `tokenizers`, a rust-bert/tch token classifier, whole-word spans)
//! → [`normalize`] (abbreviations, ontology and company linking) → [`table`] (aggregated entities) → [`export`] (CSV, JSONL,
//! JSON). [`pipeline`] streams documents through them in bounded memory. [`train`] and
//! [`eval`] build and score the model on the corpora described in [`corpus`].

pub mod corpus;
pub mod eval;
pub mod eval_normalize;
pub mod export;
pub mod fsutil;
pub mod hygiene;
pub mod ingest;
pub mod memory;
pub mod ner;
pub mod normalize;
pub mod pipeline;
pub mod profile;
pub mod records;
pub mod report;
pub mod segment;
pub mod table;
pub mod train;
pub mod types;

pub use types::{CharIndex, DocSource, Document, EntityId, EntityLabel, Mention, Span};
