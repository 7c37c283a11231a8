//! The tch engine: rust-bert's `BertModel` on libtorch (fp32), the word-shape and lexicon
//! embeddings and the per-type heads. Training builds and saves the same [`Tagger`]; inference
//! runs it through [`TchClassifier`].

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use rust_bert::bert::{BertConfig, BertEmbeddings, BertModel};
use rust_bert::Config;
use tch::{nn, Device, Kind, Tensor};

use super::{Engine, PieceBatch, TokenClassifier, NUM_TAGS};
use crate::ner::encode::NUM_SHAPES;
use crate::ner::lexfeat::{self, LEX_CATEGORIES, LEX_STATES};
use crate::ner::model::{ModelConfig, ModelDir, BERT_CONFIG_FILE, WEIGHTS_FILE};

/// libtorch's intra-op threads (process-wide).
pub fn set_threads(threads: usize) {
    tch::set_num_threads(threads.max(1) as i32);
}

/// Seed libtorch's generator (training, test models).
pub fn manual_seed(seed: i64) {
    tch::manual_seed(seed);
}

pub fn read_bert_config(path: &Path) -> Result<BertConfig> {
    // rust-bert's Config::from_file panics on a bad file; check it parses first.
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str::<serde_json::Value>(&text)
        .with_context(|| format!("parsing {}", path.display()))?;
    Ok(BertConfig::from_file(path))
}

/// Encoder + shape embedding + per-type O/B/I heads.
pub struct Tagger {
    bert: BertModel<BertEmbeddings>,
    shape_embedding: nn::Embedding,
    /// Lexicon features: one row per (category, state), summed over categories.
    lex_embedding: Option<nn::Embedding>,
    head: nn::Linear,
    dropout: f64,
    num_types: i64,
}

impl Tagger {
    pub fn new(
        p: &nn::Path,
        bert: &BertConfig,
        num_types: usize,
        shape_dim: i64,
        lexicon_dim: i64,
    ) -> Self {
        let hidden = bert.hidden_size;
        let bert_model =
            BertModel::<BertEmbeddings>::new_with_optional_pooler(p / "bert", bert, false);
        let shape_embedding = nn::embedding(
            p / "shape_embedding",
            NUM_SHAPES,
            shape_dim,
            nn::EmbeddingConfig {
                ws_init: nn::Init::Randn {
                    mean: 0.,
                    stdev: 0.02,
                },
                ..Default::default()
            },
        );
        let lex_embedding = (lexicon_dim > 0).then(|| {
            nn::embedding(
                p / "lex_embedding",
                (LEX_CATEGORIES * LEX_STATES) as i64,
                lexicon_dim,
                nn::EmbeddingConfig {
                    ws_init: nn::Init::Randn {
                        mean: 0.,
                        stdev: 0.02,
                    },
                    ..Default::default()
                },
            )
        });
        let num_types = num_types as i64;
        let head = nn::linear(
            p / "head",
            hidden + shape_dim + lexicon_dim,
            num_types * NUM_TAGS,
            nn::LinearConfig {
                ws_init: nn::Init::Randn {
                    mean: 0.,
                    stdev: 0.02,
                },
                bs_init: Some(nn::Init::Const(0.)),
                bias: true,
            },
        );
        Tagger {
            bert: bert_model,
            shape_embedding,
            lex_embedding,
            head,
            dropout: bert.hidden_dropout_prob,
            num_types,
        }
    }

    /// `ids`, `mask`, `shapes`: `[batch, len]` int64; `lex`: `[batch, len, categories]` int64
    /// (required when the model has lexicon features). Returns logits `[batch, len, types, 3]`.
    pub fn forward_t(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        shapes: &Tensor,
        lex: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor> {
        let out = self
            .bert
            .forward_t(Some(ids), Some(mask), None, None, None, None, None, train)
            .map_err(|e| anyhow::anyhow!("encoder forward failed: {e}"))?;
        let shape = shapes.apply(&self.shape_embedding);
        let mut parts = vec![out.hidden_state, shape];
        if let Some(emb) = &self.lex_embedding {
            let lex = lex.context("this model needs lexicon features")?;
            parts.push(lex.apply(emb).sum_dim_intlist(2, false, Kind::Float));
        }
        let features = Tensor::cat(&parts, -1).dropout(self.dropout, train);
        let logits = features.apply(&self.head);
        let (b, l) = ids.size2()?;
        Ok(logits.view([b, l, self.num_types, NUM_TAGS]))
    }
}

/// Copy pretrained encoder weights (a HuggingFace `BertModel` safetensors file, names without
/// the `bert.` prefix) into the `bert.*` variables of `vs`. Returns how many tensors were copied.
pub fn load_base_encoder(vs: &nn::VarStore, weights: &Path) -> Result<usize> {
    let base: HashMap<String, Tensor> = Tensor::read_safetensors(weights)
        .with_context(|| format!("reading base encoder {}", weights.display()))?
        .into_iter()
        .collect();
    let mut copied = 0;
    tch::no_grad(|| -> Result<()> {
        for (name, mut var) in vs.variables() {
            let Some(stripped) = name.strip_prefix("bert.") else {
                continue;
            };
            let src = base.get(stripped).with_context(|| {
                format!(
                    "base encoder {} has no tensor {stripped}",
                    weights.display()
                )
            })?;
            if src.size() != var.size() {
                bail!(
                    "base encoder tensor {stripped} has shape {:?}, model expects {:?}",
                    src.size(),
                    var.size()
                );
            }
            var.copy_(&src.to_kind(var.kind()));
            copied += 1;
        }
        Ok(())
    })?;
    Ok(copied)
}

/// Save every variable of `vs` to a safetensors file (sorted names; fp16 when `half`).
pub fn save_weights(vs: &nn::VarStore, path: &Path, half: bool) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let named: Vec<(String, Tensor)> = named
        .into_iter()
        .map(|(n, t)| {
            let t = t.detach();
            (n, if half { t.to_kind(Kind::Half) } else { t })
        })
        .collect();
    crate::fsutil::replace_with(path, |tmp| Ok(Tensor::write_safetensors(&named, tmp)?))
}

/// Suffixes of a tensor stored as int8 with one fp32 scale per row (the word-embedding table of
/// a model folder that `scripts/export-onnx.sh` packed, shared with `model.int8.onnx`).
pub const Q8_SUFFIX: &str = ".q8";
pub const Q8_SCALE_SUFFIX: &str = ".q8scale";

/// Every tensor of a safetensors file by name, int8-packed ones (`name.q8` + `name.q8scale`)
/// dequantized to fp32 under `name`.
pub fn read_weights(path: &Path) -> Result<HashMap<String, Tensor>> {
    let mut raw: HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .with_context(|| format!("reading weights from {}", path.display()))?
        .into_iter()
        .collect();
    let packed: Vec<String> = raw
        .keys()
        .filter_map(|k| k.strip_suffix(Q8_SUFFIX).map(str::to_string))
        .collect();
    for name in packed {
        let q = raw.remove(&format!("{name}{Q8_SUFFIX}")).expect("listed");
        let scale = raw
            .remove(&format!("{name}{Q8_SCALE_SUFFIX}"))
            .with_context(|| format!("{}: {name}{Q8_SUFFIX} without its scales", path.display()))?;
        let table = q.to_kind(Kind::Float) * scale.to_kind(Kind::Float).unsqueeze(-1);
        raw.insert(name, table);
    }
    Ok(raw)
}

/// Load weights from a safetensors file into `vs`, computing in fp32 whatever the file's dtype
/// (fp16, fp32, or an int8-packed table; see [`read_weights`]). Every variable must be there
/// with its shape.
pub fn load_weights(vs: &mut nn::VarStore, path: &Path) -> Result<()> {
    let weights = read_weights(path)?;
    vs.float();
    tch::no_grad(|| -> Result<()> {
        for (name, mut var) in vs.variables() {
            let src = weights
                .get(&name)
                .with_context(|| format!("{} has no tensor {name}", path.display()))?;
            if src.size() != var.size() {
                bail!(
                    "{name}: shape {:?} in {}, model expects {:?}",
                    src.size(),
                    path.display(),
                    var.size()
                );
            }
            var.copy_(&src.to_kind(Kind::Float));
        }
        Ok(())
    })
}

/// Start from another model's weights where the shapes allow: every tensor of the same name
/// and shape is copied; a head with fewer input columns (a model without lexicon features)
/// fills the first columns and the new ones start at zero, so the new features begin with no
/// effect. Returns (copied, widened) counts.
pub fn load_warm_start(vs: &nn::VarStore, path: &Path) -> Result<(usize, usize)> {
    load_warm_start_layers(vs, path, None)
}

/// [`load_warm_start`] into a model with fewer encoder layers: target layer `i` takes the
/// source's layer `layers[i]` (a student made by dropping layers of its teacher).
pub fn load_warm_start_layers(
    vs: &nn::VarStore,
    path: &Path,
    layers: Option<&[usize]>,
) -> Result<(usize, usize)> {
    let mut source = read_weights(path)?;
    if let Some(layers) = layers {
        let prefix = "bert.encoder.layer.";
        let mut renamed = HashMap::new();
        for (name, t) in source.drain() {
            let Some(rest) = name.strip_prefix(prefix) else {
                renamed.insert(name, t);
                continue;
            };
            let (index, tail) = rest.split_once('.').context("layer tensor name")?;
            let index: usize = index.parse().context("layer index")?;
            for (target, _) in layers.iter().enumerate().filter(|(_, &s)| s == index) {
                renamed.insert(format!("{prefix}{target}.{tail}"), t.shallow_clone());
            }
        }
        source = renamed;
    }
    let (mut copied, mut widened) = (0, 0);
    tch::no_grad(|| -> Result<()> {
        for (name, mut var) in vs.variables() {
            let Some(src) = source.get(&name) else {
                continue;
            };
            let src = src.to_kind(var.kind());
            let (have, want) = (src.size(), var.size());
            if have == want {
                var.copy_(&src);
                copied += 1;
            } else if have.len() == 2 && want.len() == 2 && have[0] == want[0] && have[1] < want[1]
            {
                let _ = var.zero_();
                var.narrow(1, 0, have[1]).copy_(&src);
                widened += 1;
            } else {
                bail!(
                    "{name}: shape {have:?} in {}, model expects {want:?}",
                    path.display()
                );
            }
        }
        Ok(())
    })?;
    Ok((copied, widened))
}

/// A model loaded for inference (or further training).
pub struct LoadedModel {
    pub vs: nn::VarStore,
    pub tagger: Tagger,
    pub config: ModelConfig,
}

impl LoadedModel {
    pub fn load(dir: &ModelDir, device: Device) -> Result<Self> {
        dir.check(&[BERT_CONFIG_FILE, WEIGHTS_FILE])?;
        let config = dir.read_config()?;
        let bert = Self::read_bert_config(dir)?;
        let mut vs = nn::VarStore::new(device);
        let tagger = Tagger::new(
            &vs.root(),
            &bert,
            config.labels.len(),
            config.shape_dim,
            config.lexicon_dim,
        );
        load_weights(&mut vs, &dir.file(WEIGHTS_FILE))?;
        Ok(LoadedModel { vs, tagger, config })
    }
}

impl LoadedModel {
    pub fn read_bert_config(dir: &ModelDir) -> Result<BertConfig> {
        read_bert_config(&dir.file(BERT_CONFIG_FILE))
    }
}

/// The rust-bert/tch backend.
pub struct TchClassifier {
    model: LoadedModel,
}

impl TchClassifier {
    pub fn new(model: LoadedModel) -> Self {
        TchClassifier { model }
    }

    /// Load a model folder on the CPU with `threads` intra-op threads.
    pub fn load(dir: &ModelDir, threads: usize) -> Result<Self> {
        set_threads(threads);
        Ok(Self::new(LoadedModel::load(dir, Device::Cpu)?))
    }
}

impl TokenClassifier for TchClassifier {
    fn num_types(&self) -> usize {
        self.model.config.labels.len()
    }

    fn engine(&self) -> Engine {
        Engine::Tch
    }

    fn classify(&self, batch: &PieceBatch) -> Result<Vec<f32>> {
        let probs = self.forward(batch)?.softmax(-1, Kind::Float);
        Ok(Vec::<f32>::try_from(
            &probs.to_device(Device::Cpu).flatten(0, -1),
        )?)
    }
}

impl TchClassifier {
    /// Raw logits `[rows, len, types, NUM_TAGS]` (parity checks against other engines).
    pub fn logits(&self, batch: &PieceBatch) -> Result<Vec<f32>> {
        Ok(Vec::<f32>::try_from(
            &self.forward(batch)?.to_device(Device::Cpu).flatten(0, -1),
        )?)
    }

    fn forward(&self, batch: &PieceBatch) -> Result<Tensor> {
        let shape = [batch.rows as i64, batch.len as i64];
        let device = self.model.vs.device();
        let t = |v: &[i64]| Tensor::from_slice(v).view(shape).to_device(device);
        // A model with lexicon features run without them (an ablation) sees "no name"
        // everywhere.
        let lex = if !batch.lex.is_empty() {
            Some(Tensor::from_slice(&batch.lex).view([shape[0], shape[1], -1]))
        } else if self.model.config.lexicon_dim > 0 {
            let none: Vec<i64> =
                lexfeat::feature_ids(&[lexfeat::LEX_NONE; LEX_CATEGORIES]).collect();
            Some(
                Tensor::from_slice(&none)
                    .view([1, 1, -1])
                    .repeat([shape[0], shape[1], 1]),
            )
        } else {
            None
        }
        .map(|t| t.to_device(device));
        tch::no_grad(|| {
            self.model.tagger.forward_t(
                &t(&batch.ids),
                &t(&batch.mask),
                &t(&batch.shapes),
                lex.as_ref(),
                false,
            )
        })
    }
}
