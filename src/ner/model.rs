//! Model folders: what a model is, independent of the engine that runs it.
//!
//! The token classifier is a BERT encoder + a word-shape embedding + lexicon features + one
//! O/B/I head per entity type (engines in [`super::backend`]). Per-type heads let corpora that
//! annotate only some types train one shared encoder: a sentence from NCBI-disease teaches the
//! DISEASE head and leaves the CELL_TYPE head alone (its loss is masked).
//!
//! A model folder holds:
//! - `biotable.json`: [`ModelConfig`] (labels, shape size, window length, provenance);
//! - `config.json`: the BERT configuration (HuggingFace format);
//! - `model.safetensors`: all weights (`bert.*`, `shape_embedding.*`, `head.*`), fp16 or fp32;
//! - `tokenizer.json`: the word-piece tokenizer;
//! - `model.int8.onnx` (optional): the same network for the ONNX backend, written by
//!   `scripts/export-onnx.sh`.

use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::types::EntityLabel;

pub const MODEL_CONFIG_FILE: &str = "biotable.json";
pub const BERT_CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const ONNX_FILE: &str = "model.int8.onnx";

/// `biotable.json`: what the product needs to know about a model besides its weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelConfig {
    pub name: String,
    /// Entity types, in head order.
    pub labels: Vec<EntityLabel>,
    /// Width of the word-shape embedding.
    pub shape_dim: i64,
    /// Longest window the model sees, in word pieces, [CLS] and [SEP] included.
    pub max_len: usize,
    /// Width of the lexicon-feature embedding (0: the model has no lexicon features).
    #[serde(default)]
    pub lexicon_dim: i64,
    /// Free text: how the model was made.
    #[serde(default)]
    pub description: String,
}

/// The paths of a model folder.
#[derive(Debug, Clone)]
pub struct ModelDir(pub PathBuf);

impl ModelDir {
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Fails with one sentence naming what is missing: the files every engine needs
    /// (`biotable.json`, `tokenizer.json`) and the `engine_files` of the one asked for.
    pub fn check(&self, engine_files: &[&str]) -> Result<()> {
        for f in [MODEL_CONFIG_FILE, TOKENIZER_FILE]
            .iter()
            .chain(engine_files)
        {
            if !self.file(f).is_file() {
                bail!(
                    "model folder {} has no {f}; pass --model DIR with a biotable model (the default is models/biotable-ner; a fresh clone has it, or rebuild it with `biotable train --config models/train/biotable-ner-v2.toml`)",
                    self.0.display()
                );
            }
        }
        Ok(())
    }

    pub fn read_config(&self) -> Result<ModelConfig> {
        let path = self.file(MODEL_CONFIG_FILE);
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}
