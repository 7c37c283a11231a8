//! The ONNX backend against the tch reference (issue 12's parity contract):
//! - the fp32 ONNX export gives the logits of tch within 1e-4, on random models with and
//!   without lexicon features and on the shipped model;
//! - the shipped int8 model finds the same spans as tch on fixture sentences.
//!
//! Needs ONNX Runtime and the export venv (`bash scripts/setup-onnxruntime.sh`, which the
//! README's test command runs); skips with a message when the runtime is absent.

use std::path::{Path, PathBuf};
use std::process::Command;

use biotable::ner::backend::onnx::{runtime_library, OnnxClassifier};
use biotable::ner::backend::tch::TchClassifier;
use biotable::ner::backend::testing::write_random_model_with;
use biotable::ner::backend::PieceBatch;
use biotable::ner::encode::PieceEncoder;
use biotable::ner::lexfeat::LexiconMatcher;
use biotable::ner::model::{ModelDir, TOKENIZER_FILE};
use biotable::ner::{BackendChoice, Engine, NerEngine, NerOptions};
use biotable::{DocSource, Document, EntityLabel};

const SENTENCES: &[&str] = &[
    "In patients with acute myeloid leukemia, natural killer cells failed to control the blasts.",
    "Calidi Biotherapeutics (NYSE American: CLDI) and Stanford University, USA, report results.",
    "CHRONIC LYMPHOCYTIC LEUKEMIA: New Hope From Pfizer Inc.",
    "HeLa cells were treated with cisplatin and tamoxifen; BRCA1 expression fell.",
    "The World Health Organization warned of measles outbreaks in Europe.",
    "x",
];

fn runtime_or_skip() -> bool {
    match runtime_library() {
        Ok(_) => true,
        Err(e) => {
            eprintln!("skipping the ONNX parity tests: {e}");
            false
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Export the fp32 graph of `model` into `out` (model.onnx) with the repository's script.
fn export_fp32(model: &Path, out: &Path) {
    let status = Command::new("bash")
        .arg(root().join("scripts/export-onnx.sh"))
        .arg(model)
        .arg("--out")
        .arg(out)
        .arg("--fp32-only")
        .status()
        .expect("running scripts/export-onnx.sh");
    assert!(status.success(), "export of {} failed", model.display());
}

fn batch(dir: &ModelDir, lexicon: bool) -> PieceBatch {
    let mut encoder = PieceEncoder::from_file(&dir.file(TOKENIZER_FILE)).unwrap();
    if lexicon {
        encoder = encoder.with_lexicon(LexiconMatcher::bundled());
    }
    let pieces: Vec<_> = SENTENCES
        .iter()
        .map(|s| encoder.encode(s).unwrap())
        .collect();
    let windows: Vec<_> = pieces.iter().map(|p| (p, 0, p.len().min(30))).collect();
    PieceBatch::new(&encoder, &windows)
}

/// Largest absolute difference between the two engines' logits, where the mask is on.
fn max_logit_gap(dir: &ModelDir, onnx_dir: &ModelDir, lexicon: bool) -> f32 {
    let b = batch(dir, lexicon);
    let tch = TchClassifier::load(dir, 1).unwrap().logits(&b).unwrap();
    let onnx = OnnxClassifier::load_file(onnx_dir, "model.onnx", 1)
        .unwrap()
        .logits(&b)
        .unwrap();
    assert_eq!(tch.len(), onnx.len());
    let per_piece = tch.len() / b.mask.len();
    tch.chunks(per_piece)
        .zip(onnx.chunks(per_piece))
        .zip(&b.mask)
        .filter(|(_, &m)| m == 1)
        .flat_map(|((a, o), _)| a.iter().zip(o).map(|(x, y)| (x - y).abs()))
        .fold(0.0, f32::max)
}

#[test]
fn fp32_export_matches_tch_logits_on_random_models() {
    if !runtime_or_skip() {
        return;
    }
    let labels = [EntityLabel::Disease, EntityLabel::Company];
    for lexicon_dim in [0, 4] {
        let tmp = tempfile::tempdir().unwrap();
        write_random_model_with(tmp.path(), &labels, 7, lexicon_dim).unwrap();
        export_fp32(tmp.path(), tmp.path());
        let dir = ModelDir(tmp.path().to_path_buf());
        let gap = max_logit_gap(&dir, &dir, lexicon_dim > 0);
        assert!(
            gap < 1e-4,
            "lexicon_dim {lexicon_dim}: logits differ by {gap}"
        );
    }
}

#[test]
fn fp32_export_of_the_shipped_model_matches_tch_logits() {
    if !runtime_or_skip() {
        return;
    }
    let shipped = root().join("models/biotable-ner");
    let tmp = tempfile::tempdir().unwrap();
    export_fp32(&shipped, tmp.path());
    for f in ["biotable.json", "tokenizer.json"] {
        std::fs::copy(shipped.join(f), tmp.path().join(f)).unwrap();
    }
    let gap = max_logit_gap(
        &ModelDir(shipped),
        &ModelDir(tmp.path().to_path_buf()),
        true,
    );
    assert!(gap < 1e-4, "logits differ by {gap}");
}

type Found = Vec<Vec<(usize, usize, EntityLabel, f32)>>;

fn spans(backend: BackendChoice) -> Vec<Vec<(usize, usize, EntityLabel)>> {
    found(backend, 2)
        .into_iter()
        .map(|d| d.into_iter().map(|(a, b, l, _)| (a, b, l)).collect())
        .collect()
}

fn found(backend: BackendChoice, threads: usize) -> Found {
    let engine = NerEngine::load(
        &ModelDir(root().join("models/biotable-ner")),
        NerOptions {
            backend,
            threads,
            ..NerOptions::default()
        },
    )
    .unwrap();
    let docs: Vec<Document> = SENTENCES
        .iter()
        .enumerate()
        .map(|(i, s)| Document {
            id: format!("s{i}"),
            source: DocSource {
                path: "fixture".into(),
                line: None,
            },
            text: s.to_string(),
        })
        .collect();
    let expected = match backend {
        BackendChoice::Onnx => Engine::Onnx,
        _ => Engine::Tch,
    };
    assert_eq!(engine.engine(), expected);
    engine
        .annotate(&docs)
        .unwrap()
        .into_iter()
        .map(|a| {
            a.mentions
                .into_iter()
                .map(|(_, m)| (m.span.start, m.span.end, m.label, m.score))
                .collect()
        })
        .collect()
}

#[test]
fn shipped_int8_model_finds_the_spans_tch_finds() {
    if !runtime_or_skip() {
        return;
    }
    let tch = spans(BackendChoice::Tch);
    let onnx = spans(BackendChoice::Onnx);
    assert!(tch.iter().map(Vec::len).sum::<usize>() >= 8, "{tch:?}");
    for (i, (a, b)) in tch.iter().zip(&onnx).enumerate() {
        assert_eq!(a, b, "sentence {i}: {:?}", SENTENCES[i]);
    }
}

#[test]
fn int8_engine_is_deterministic_across_runs_and_thread_counts() {
    if !runtime_or_skip() {
        return;
    }
    let a = found(BackendChoice::Onnx, 2);
    let b = found(BackendChoice::Onnx, 2);
    assert_eq!(a, b, "two runs, same threads: identical spans and scores");
    let one = found(BackendChoice::Onnx, 1);
    for (x, y) in a.iter().zip(&one) {
        let spans = |v: &Vec<(usize, usize, EntityLabel, f32)>| {
            v.iter().map(|&(s, e, l, _)| (s, e, l)).collect::<Vec<_>>()
        };
        assert_eq!(spans(x), spans(y), "1 vs 2 threads: same spans");
        for (p, q) in x.iter().zip(y) {
            assert!((p.3 - q.3).abs() < 1e-3, "scores {} vs {}", p.3, q.3);
        }
    }
}
