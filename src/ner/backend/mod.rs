//! Engines that run the token classifier, behind one seam.
//!
//! Shaped like HuggingFace text-embeddings-inference's `backends/core`: this module has the
//! trait, the padded batch type, the tag layout and the engine choice, and names no ML crate;
//! each engine is one module ([`tch`]: rust-bert's BertModel on libtorch, fp32, also what
//! training uses; [`onnx`]: the int8 ONNX export on ONNX Runtime through rust-bert's
//! `ONNXEncoder`). Nothing outside `ner::backend` (and the trainer) names `tch` or `ort`.

pub mod onnx;
pub mod tch;
pub mod testing;

use std::fmt;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::encode::{PieceEncoder, Pieces, NUM_SHAPES};
use super::lexfeat::{self, LEX_CATEGORIES, LEX_STATES};
use super::model::{ModelDir, ONNX_FILE};

/// Tags of every per-type head: the last axis of the classifier's output.
pub const TAG_O: i64 = 0;
pub const TAG_B: i64 = 1;
pub const TAG_I: i64 = 2;
pub const NUM_TAGS: i64 = 3;

/// A padded batch of windows, `[rows, len]` row-major, [CLS]/[SEP] included.
#[derive(Debug, Clone)]
pub struct PieceBatch {
    pub ids: Vec<i64>,
    pub mask: Vec<i64>,
    pub shapes: Vec<i64>,
    /// Lexicon feature ids `[rows, len, LEX_CATEGORIES]` (see [`lexfeat::feature_ids`]);
    /// empty when the pieces carry no lexicon features.
    pub lex: Vec<i64>,
    pub rows: usize,
    pub len: usize,
}

impl PieceBatch {
    /// Build a batch from windows given as piece slices of their sentences. Inference and
    /// training both build their batches here.
    pub fn new(encoder: &PieceEncoder, windows: &[(&Pieces, usize, usize)]) -> Self {
        let len = windows.iter().map(|(_, a, b)| b - a).max().unwrap_or(0) + 2;
        let rows = windows.len();
        let with_lex = encoder.has_lexicon();
        let none: lexfeat::LexFeatures = [lexfeat::LEX_NONE; LEX_CATEGORIES];
        let k = LEX_CATEGORIES;
        let mut batch = PieceBatch {
            ids: vec![encoder.pad_id as i64; rows * len],
            mask: vec![0; rows * len],
            shapes: vec![0; rows * len],
            lex: if with_lex {
                (0..rows * len)
                    .flat_map(|_| lexfeat::feature_ids(&none).collect::<Vec<_>>())
                    .collect()
            } else {
                Vec::new()
            },
            rows,
            len,
        };
        for (r, (pieces, a, b)) in windows.iter().enumerate() {
            let row = r * len;
            batch.ids[row] = encoder.cls_id as i64;
            for (col, j) in (*a..*b).enumerate() {
                batch.ids[row + 1 + col] = pieces.ids[j] as i64;
                batch.shapes[row + 1 + col] = pieces.shapes[j] as i64;
                if with_lex {
                    if let Some(f) = pieces.lex.get(j) {
                        let at = (row + 1 + col) * k;
                        for (slot, id) in batch.lex[at..at + k]
                            .iter_mut()
                            .zip(lexfeat::feature_ids(f))
                        {
                            *slot = id;
                        }
                    }
                }
            }
            batch.ids[row + 1 + (b - a)] = encoder.sep_id as i64;
            for m in &mut batch.mask[row..row + 2 + (b - a)] {
                *m = 1;
            }
        }
        batch
    }

    /// Word shape and lexicon states packed into one id per piece, for engines with a single
    /// extra input (the ONNX graph reads it as `token_type_ids`): `shape + NUM_SHAPES * code`,
    /// `code = Σ_k state_k · 3^k` over the lexicon categories (0 when the batch has none).
    pub fn packed_features(&self) -> Vec<i64> {
        let k = LEX_CATEGORIES;
        (0..self.ids.len())
            .map(|i| {
                let code = if self.lex.is_empty() {
                    0
                } else {
                    self.lex[i * k..(i + 1) * k]
                        .iter()
                        .enumerate()
                        .rev()
                        .fold(0i64, |acc, (c, &id)| {
                            acc * LEX_STATES as i64 + (id - (c * LEX_STATES) as i64)
                        })
                };
                self.shapes[i] + NUM_SHAPES * code
            })
            .collect()
    }
}

/// Anything that turns a batch of pieces into per-type O/B/I probabilities.
pub trait TokenClassifier: Send {
    fn num_types(&self) -> usize;
    /// Probabilities `[rows, len, types, NUM_TAGS]`, row-major, softmax over the last axis.
    fn classify(&self, batch: &PieceBatch) -> Result<Vec<f32>>;
    /// Which engine this is (reported in the manifest).
    fn engine(&self) -> Engine;
}

/// An engine that ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// rust-bert on libtorch, fp32.
    Tch,
    /// `model.int8.onnx` on ONNX Runtime.
    Onnx,
    /// A stand-in (tests).
    Mock,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Tch => "tch",
            Engine::Onnx => "onnx",
            Engine::Mock => "mock",
        })
    }
}

/// `--backend`: which engine to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BackendChoice {
    /// ONNX when the model folder has `model.int8.onnx` and ONNX Runtime is installed, else tch.
    #[default]
    Auto,
    Onnx,
    Tch,
}

/// A classifier ready to run, and why `auto` chose what it chose.
pub struct LoadedClassifier {
    pub classifier: Box<dyn TokenClassifier>,
    /// Set when `auto` fell back to tch (said once to the user).
    pub note: Option<String>,
}

/// Load the model in `dir` with the engine `choice` names, running on `threads` threads.
pub fn load(dir: &ModelDir, choice: BackendChoice, threads: usize) -> Result<LoadedClassifier> {
    let threads = threads.max(1);
    let has_onnx = dir.file(ONNX_FILE).is_file();
    match choice {
        BackendChoice::Tch => Ok(LoadedClassifier {
            classifier: Box::new(tch::TchClassifier::load(dir, threads)?),
            note: None,
        }),
        BackendChoice::Onnx => {
            if !has_onnx {
                bail!(
                    "model folder {} has no {ONNX_FILE}; write it with `bash scripts/export-onnx.sh {}`, or use --backend tch",
                    dir.0.display(),
                    dir.0.display()
                );
            }
            Ok(LoadedClassifier {
                classifier: Box::new(onnx::OnnxClassifier::load(dir, threads)?),
                note: None,
            })
        }
        BackendChoice::Auto => {
            let why_not = if !has_onnx {
                format!("{} has no {ONNX_FILE}", dir.0.display())
            } else {
                match onnx::runtime_library() {
                    Ok(_) => {
                        return Ok(LoadedClassifier {
                            classifier: Box::new(onnx::OnnxClassifier::load(dir, threads)?),
                            note: None,
                        })
                    }
                    Err(e) => e.to_string(),
                }
            };
            Ok(LoadedClassifier {
                classifier: Box::new(tch::TchClassifier::load(dir, threads)?),
                note: Some(format!("running the tch backend: {why_not}")),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_features_round_trip_shape_and_lexicon_states() {
        let states: [u8; LEX_CATEGORIES] = [1, 0, 2, 0, 0, 1];
        let ids: Vec<i64> = lexfeat::feature_ids(&states).collect();
        let batch = PieceBatch {
            ids: vec![5, 6],
            mask: vec![1, 1],
            shapes: vec![7, 3],
            lex: ids
                .iter()
                .copied()
                .chain(lexfeat::feature_ids(&[0; LEX_CATEGORIES]))
                .collect(),
            rows: 1,
            len: 2,
        };
        let packed = batch.packed_features();
        assert_eq!(packed[1], 3, "no lexicon name: the shape alone");
        assert_eq!(packed[0] % NUM_SHAPES, 7);
        let mut code = packed[0] / NUM_SHAPES;
        for &s in &states {
            assert_eq!(code % LEX_STATES as i64, s as i64);
            code /= LEX_STATES as i64;
        }
        let plain = PieceBatch {
            lex: Vec::new(),
            ..batch
        };
        assert_eq!(plain.packed_features(), vec![7, 3]);
    }
}
