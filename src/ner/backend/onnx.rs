//! The ONNX engine: `model.int8.onnx` (written by `scripts/export-onnx.sh`: the same network as
//! [`super::tch`], through ONNX Runtime's transformer optimizer and dynamic int8 quantization)
//! run on ONNX Runtime through rust-bert's `ONNXEncoder` (ort 1.16, `load-dynamic`).
//!
//! The runtime library is not linked: it is loaded when the first model is, from (first found)
//! `$BIOTABLE_ORT_LIB`, `$ORT_DYLIB_PATH`, or `$BIOTABLE_CACHE/onnxruntime/libonnxruntime.so`
//! (default cache `~/.cache/biotable`), where `scripts/setup-onnxruntime.sh` puts the library
//! of the PyPI `onnxruntime` wheel. The graph's inputs are rust-bert's names; the word shape and
//! lexicon states travel packed in `token_type_ids` ([`PieceBatch::packed_features`]).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{anyhow, bail, Context, Result};
use ort::{Environment, GraphOptimizationLevel};
use rust_bert::pipelines::onnx::config::ONNXEnvironmentConfig;
use rust_bert::pipelines::onnx::ONNXEncoder;
use tch::Tensor;

use super::{Engine, PieceBatch, TokenClassifier, NUM_TAGS};
use crate::ner::model::{ModelDir, ONNX_FILE};

/// What to run to install the runtime.
const INSTALL_HINT: &str =
    "run `bash scripts/setup-onnxruntime.sh` (or set BIOTABLE_ORT_LIB to a libonnxruntime.so, version 1.16 or later)";

/// The ONNX Runtime shared library this process loads, or why there is none.
pub fn runtime_library() -> Result<PathBuf> {
    for var in ["BIOTABLE_ORT_LIB", "ORT_DYLIB_PATH"] {
        if let Some(path) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(path);
            if path.is_file() {
                return Ok(path);
            }
            bail!(
                "{var} names {}, which does not exist; {INSTALL_HINT}",
                path.display()
            );
        }
    }
    let cache = std::env::var_os("BIOTABLE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/biotable")))
        .ok_or_else(|| anyhow!("ONNX Runtime not found (no HOME); {INSTALL_HINT}"))?;
    let path = cache.join("onnxruntime").join("libonnxruntime.so");
    if path.is_file() {
        Ok(path)
    } else {
        bail!(
            "ONNX Runtime is not installed ({} is missing); {INSTALL_HINT}",
            path.display()
        )
    }
}

/// One ONNX Runtime environment per process, created on first use after the library is found
/// (ort reads `ORT_DYLIB_PATH` once, when it first loads the library).
fn environment() -> Result<Arc<Environment>> {
    static ENV: OnceLock<Mutex<Option<Arc<Environment>>>> = OnceLock::new();
    let cell = ENV.get_or_init(|| Mutex::new(None));
    let mut env = cell
        .lock()
        .map_err(|_| anyhow!("ONNX Runtime setup panicked earlier"))?;
    if let Some(e) = env.as_ref() {
        return Ok(e.clone());
    }
    let lib = runtime_library()?;
    // Before any other thread can touch ort; the lock above serialises the first load.
    std::env::set_var("ORT_DYLIB_PATH", &lib);
    let created = ONNXEnvironmentConfig::default()
        .get_environment()
        .map_err(|e| anyhow!("starting ONNX Runtime from {}: {e}", lib.display()))?;
    *env = Some(created.clone());
    Ok(created)
}

/// `model.int8.onnx` on ONNX Runtime.
pub struct OnnxClassifier {
    encoder: ONNXEncoder,
    num_types: usize,
}

impl OnnxClassifier {
    /// Load `model.int8.onnx` from a model folder, with `threads` intra-op threads.
    pub fn load(dir: &ModelDir, threads: usize) -> Result<Self> {
        Self::load_file(dir, ONNX_FILE, threads)
    }

    /// Load another ONNX file of the folder (the fp32 export, for parity checks).
    pub fn load_file(dir: &ModelDir, file: &str, threads: usize) -> Result<Self> {
        dir.check(&[file])?;
        let config = dir.read_config()?;
        // libtorch only carries tensors in and out here: keep its thread pool out of the way.
        super::tch::set_threads(1);
        let env = environment()?;
        let options = ONNXEnvironmentConfig {
            optimization_level: Some(GraphOptimizationLevel::Level3),
            num_intra_threads: Some(threads.clamp(1, i16::MAX as usize) as i16),
            num_inter_threads: Some(1),
            parallel_execution: Some(false),
            ..Default::default()
        };
        let path = dir.file(file);
        let encoder = ONNXEncoder::new(path.clone(), &env, &options)
            .map_err(|e| anyhow!("{e}"))
            .with_context(|| format!("loading {}", path.display()))?;
        Ok(OnnxClassifier {
            encoder,
            num_types: config.labels.len(),
        })
    }

    /// Raw logits `[rows, len, types, NUM_TAGS]`.
    pub fn logits(&self, batch: &PieceBatch) -> Result<Vec<f32>> {
        Ok(Vec::<f32>::try_from(&self.forward(batch)?.flatten(0, -1))?)
    }

    fn forward(&self, batch: &PieceBatch) -> Result<Tensor> {
        let shape = [batch.rows as i64, batch.len as i64];
        let t = |v: &[i64]| Tensor::from_slice(v).view(shape);
        let out = self
            .encoder
            .forward(
                Some(&t(&batch.ids)),
                Some(&t(&batch.mask)),
                Some(&t(&batch.packed_features())),
                None,
                None,
            )
            .map_err(|e| anyhow!("ONNX Runtime: {e}"))?;
        let logits = out
            .logits
            .context("the ONNX model has no `logits` output (re-export it)")?;
        let want = [shape[0], shape[1], self.num_types as i64, NUM_TAGS];
        if logits.size() != want {
            bail!(
                "the ONNX model gives logits of shape {:?}, expected {want:?} (a model folder whose ONNX file belongs to another model? re-export it)",
                logits.size()
            );
        }
        Ok(logits)
    }
}

impl TokenClassifier for OnnxClassifier {
    fn num_types(&self) -> usize {
        self.num_types
    }

    fn engine(&self) -> Engine {
        Engine::Onnx
    }

    fn classify(&self, batch: &PieceBatch) -> Result<Vec<f32>> {
        let mut probs = self.logits(batch)?;
        for tags in probs.chunks_exact_mut(NUM_TAGS as usize) {
            softmax(tags);
        }
        Ok(probs)
    }
}

/// Softmax in place (in Rust: a libtorch call per batch would wake its thread pool, which
/// then spins against ONNX Runtime's).
fn softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in x.iter_mut() {
        *v /= sum;
    }
}
