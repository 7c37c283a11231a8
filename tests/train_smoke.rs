//! Training smoke tests on a tiny random encoder and a hand-written fixture corpus: the loss
//! goes down, a saved model loads back with identical logits, and a finished run resumes.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use biotable::ner::backend::tch::{read_bert_config, LoadedModel, Tagger};
use biotable::ner::backend::testing::write_random_base_encoder;
use biotable::ner::encode::PieceEncoder;
use biotable::ner::model::{ModelDir, BERT_CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use biotable::train::{
    batch_loss, batch_tensors, epoch_batches, load_examples, CorpusUse, TrainConfig,
};
use biotable::EntityLabel;
use tch::nn::OptimizerConfig;
use tch::{nn, Device};

/// libtorch's random generator is global: tests that seed it and draw from it (initialisation,
/// dropout) take this lock, so a test running beside them cannot change their draws.
fn torch_rng() -> MutexGuard<'static, ()> {
    static RNG: Mutex<()> = Mutex::new(());
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn fixture_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data")
}

fn config(base: &Path, output: &Path, max_steps: usize) -> TrainConfig {
    TrainConfig {
        name: "smoke".into(),
        output: output.to_path_buf(),
        base_encoder: Some(base.to_path_buf()),
        data_dir: Some(fixture_data()),
        init_from: None,
        labels: vec![EntityLabel::Disease, EntityLabel::CellType],
        corpus: vec![CorpusUse {
            name: "ncbi-disease".into(),
            splits: vec!["train".into()],
            negatives: 1.0,
            positives: 1.0,
            weight: 1.0,
        }],
        seed: 3,
        epochs: 50,
        learning_rate: 3e-3,
        warmup_steps: 1,
        weight_decay: 0.0,
        batch_tokens: 256,
        max_len: 96,
        shape_dim: 4,
        checkpoint_every: 2,
        threads: 1,
        half: false,
        max_steps: Some(max_steps),
        warm_start: None,
        encoder_layers: None,
        teacher: None,
        distill_weight: 1.0,
        lexicon_dim: 0,
        lexicon_dropout: 0.0,
        case_variants: 0.0,
        select_on: Vec::new(),
        eval_every: None,
        select_max_sentences: 0,
    }
}

#[test]
fn loss_goes_down_on_a_fixed_batch() {
    let _rng = torch_rng();
    let tmp = tempfile::tempdir().unwrap();
    write_random_base_encoder(tmp.path(), 1).unwrap();
    let cfg = config(tmp.path(), &tmp.path().join("run"), 1);
    let encoder = PieceEncoder::from_file(&tmp.path().join(TOKENIZER_FILE)).unwrap();
    let examples = load_examples(&cfg, &encoder).unwrap();
    assert_eq!(examples.len(), 18);
    // Cell types are not annotated by NCBI-disease: that head's targets are all masked.
    assert!(examples
        .iter()
        .all(|e| e.tags.chunks(2).all(|t| t[1] == -100)));
    assert!(examples.iter().any(|e| e.tags.chunks(2).any(|t| t[0] == 1)));

    let batch = &epoch_batches(&examples, cfg.seed, 0, 4096)[0];
    let b = batch_tensors(&examples, batch, 2, &encoder, None);
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let bert = read_bert_config(&tmp.path().join(BERT_CONFIG_FILE)).unwrap();
    let tagger = Tagger::new(&vs.root(), &bert, 2, cfg.shape_dim, 0);
    let mut opt = nn::Adam::default().build(&vs, 3e-3).unwrap();
    let first = batch_loss(&tagger, &b, false).unwrap().double_value(&[]);
    for _ in 0..40 {
        let loss = batch_loss(&tagger, &b, true).unwrap();
        opt.backward_step(&loss);
    }
    let last = batch_loss(&tagger, &b, false).unwrap().double_value(&[]);
    assert!(last < first * 0.5, "loss {first} -> {last}");
}

#[test]
fn saved_model_loads_back_with_identical_logits_and_runs_resume() {
    let _rng = torch_rng();
    let tmp = tempfile::tempdir().unwrap();
    write_random_base_encoder(tmp.path(), 2).unwrap();
    let out = tmp.path().join("run");
    let cfg = config(tmp.path(), &out, 6);
    let model_dir = biotable::train::run(&cfg).unwrap();

    // The shipped folder (weights written by write_model_dir) and the last checkpoint hold
    // the same weights: identical logits.
    let loaded = LoadedModel::load(&ModelDir(model_dir.clone()), Device::Cpu).unwrap();
    let mut vs = nn::VarStore::new(Device::Cpu);
    let bert = read_bert_config(&model_dir.join(BERT_CONFIG_FILE)).unwrap();
    let tagger = Tagger::new(&vs.root(), &bert, 2, cfg.shape_dim, 0);
    vs.load(out.join("checkpoint").join(WEIGHTS_FILE)).unwrap();
    let encoder = PieceEncoder::from_file(&model_dir.join(TOKENIZER_FILE)).unwrap();
    let examples = load_examples(&cfg, &encoder).unwrap();
    let b = batch_tensors(&examples, &[0, 1, 2], 2, &encoder, None);
    let (ids, mask, shapes) = (&b.ids, &b.mask, &b.shapes);
    let a = loaded
        .tagger
        .forward_t(ids, mask, shapes, None, false)
        .unwrap();
    let b = tagger.forward_t(ids, mask, shapes, None, false).unwrap();
    assert_eq!(a.size(), vec![3, ids.size()[1], 2, 3]);
    assert!(a.equal(&b), "logits differ after save/load");

    // A second run with the same config finds the finished checkpoint and does no more steps.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["step"], 6);
    biotable::train::run(&cfg).unwrap();
    let state2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint/state.json")).unwrap())
            .unwrap();
    assert_eq!(state2["step"], 6);
    let log = std::fs::read_to_string(out.join("train.log")).unwrap();
    assert!(log.contains("step 6/6"), "{log}");
}

#[test]
fn fp16_weights_load_as_fp32() {
    let _rng = torch_rng();
    let tmp = tempfile::tempdir().unwrap();
    write_random_base_encoder(tmp.path(), 4).unwrap();
    let mut cfg = config(tmp.path(), &tmp.path().join("run"), 2);
    cfg.half = true;
    let model_dir = biotable::train::run(&cfg).unwrap();
    let stored = tch::Tensor::read_safetensors(model_dir.join(WEIGHTS_FILE)).unwrap();
    assert!(stored.iter().all(|(_, t)| t.kind() == tch::Kind::Half));
    let loaded = LoadedModel::load(&ModelDir(model_dir.clone()), Device::Cpu).unwrap();
    for (name, t) in loaded.vs.variables() {
        assert_eq!(
            t.kind(),
            tch::Kind::Float,
            "{name} is not fp32 after loading"
        );
    }
    // And its logits are close to the fp32 checkpoint's.
    let mut vs = nn::VarStore::new(Device::Cpu);
    let bert = read_bert_config(&model_dir.join(BERT_CONFIG_FILE)).unwrap();
    let tagger = Tagger::new(&vs.root(), &bert, 2, cfg.shape_dim, 0);
    vs.load(tmp.path().join("run/checkpoint").join(WEIGHTS_FILE))
        .unwrap();
    let encoder = PieceEncoder::from_file(&model_dir.join(TOKENIZER_FILE)).unwrap();
    let examples = load_examples(&cfg, &encoder).unwrap();
    let b = batch_tensors(&examples, &[0, 1], 2, &encoder, None);
    let (ids, mask, shapes) = (&b.ids, &b.mask, &b.shapes);
    let a = loaded
        .tagger
        .forward_t(ids, mask, shapes, None, false)
        .unwrap();
    let b = tagger.forward_t(ids, mask, shapes, None, false).unwrap();
    let diff = (a - b).abs().max().double_value(&[]);
    assert!(diff < 0.05, "fp16 round trip moved logits by {diff}");
}

#[test]
fn lexicon_features_train_and_warm_start_from_a_model_without_them() {
    let _rng = torch_rng();
    let tmp = tempfile::tempdir().unwrap();
    write_random_base_encoder(tmp.path(), 5).unwrap();
    // A model without lexicon features…
    let plain = biotable::train::run(&config(tmp.path(), &tmp.path().join("plain"), 2)).unwrap();
    // …seeds one with them: every tensor copied, the head widened with zero columns, so the
    // two give identical logits before any step.
    let mut cfg = config(tmp.path(), &tmp.path().join("lex"), 2);
    cfg.lexicon_dim = 4;
    cfg.lexicon_dropout = 0.3;
    cfg.case_variants = 0.5;
    cfg.warm_start = Some(plain.clone());
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let bert = read_bert_config(&plain.join(BERT_CONFIG_FILE)).unwrap();
    let widened = Tagger::new(&vs.root(), &bert, 2, cfg.shape_dim, cfg.lexicon_dim);
    let (copied, grown) =
        biotable::ner::backend::tch::load_warm_start(&vs, &plain.join(WEIGHTS_FILE)).unwrap();
    assert_eq!(grown, 1, "only the head's weight is widened");
    assert!(copied > 10);
    let source = LoadedModel::load(&ModelDir(plain.clone()), Device::Cpu).unwrap();
    let encoder = PieceEncoder::from_file(&plain.join(TOKENIZER_FILE))
        .unwrap()
        .with_lexicon(biotable::ner::lexfeat::LexiconMatcher::bundled());
    let examples = load_examples(&cfg, &encoder).unwrap();
    assert!(
        examples
            .iter()
            .any(|e| e.pieces.lex.iter().any(|f| f[0] != 0)),
        "disease names in the fixture corpus light up the disease feature"
    );
    let b = batch_tensors(&examples, &[0, 1], 2, &encoder, None);
    let a = source
        .tagger
        .forward_t(&b.ids, &b.mask, &b.shapes, None, false)
        .unwrap();
    let c = widened
        .forward_t(&b.ids, &b.mask, &b.shapes, b.lex.as_ref(), false)
        .unwrap();
    let diff = (a - c).abs().max().double_value(&[]);
    assert!(diff < 1e-5, "warm start changed logits by {diff}");
    // Case variants add examples; a run with lexicon features trains and loads back.
    let plain_examples =
        load_examples(&config(tmp.path(), &tmp.path().join("x"), 1), &encoder).unwrap();
    assert!(examples.len() > plain_examples.len());
    let dir = biotable::train::run(&cfg).unwrap();
    let loaded = LoadedModel::load(&ModelDir(dir), Device::Cpu).unwrap();
    assert_eq!(loaded.config.lexicon_dim, 4);
}
