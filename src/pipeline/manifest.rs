//! `manifest.json` and the run summary: counts, throughput, memory, stage times, engine.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ingest::IngestError;
use crate::ner::Engine;
use crate::profile::StageRow;
use crate::types::EntityLabel;

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
pub(super) fn mebibytes(bytes: u64) -> f64 {
    (bytes as f64 / (1u64 << 20) as f64 * 10.0).round() / 10.0
}

/// manifest.json
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub tool: &'static str,
    pub version: &'static str,
    /// `extract` or `merge`.
    pub command: &'static str,
    /// Model contents and settings, hashed: runs and parts with the same one merge.
    pub fingerprint: String,
    /// `--shard K/N` of a shard run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    pub model: ModelInfo,
    pub labels: Vec<EntityLabel>,
    pub inputs: Vec<String>,
    /// The JSONL fields / CSV columns of ids and texts (`--id-field`, `--text-field`).
    pub fields: crate::ingest::FieldNames,
    pub files: Vec<String>,
    pub counts: Counts,
    pub elapsed_seconds: f64,
    pub throughput: Throughput,
    pub threads: usize,
    /// Word pieces per model batch (absent for merge, which runs no model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_tokens: Option<usize>,
    /// The engine that ran the model (`--backend`).
    pub backend: Engine,
    /// Why `--backend auto` did not run ONNX, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_note: Option<String>,
    pub memory: MemoryReport,
    /// Wall and CPU seconds per stage (`extract --profile` prints them).
    pub stages: Vec<StageRow>,
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
