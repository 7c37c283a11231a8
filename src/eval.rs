//! `biotable eval`: entity-level exact-match precision, recall and F1 (seqeval conventions)
//! per label and micro-averaged, through the same [`NerEngine`] that `extract` uses.
//!
//! Each gold sentence becomes a document (tokens joined by spaces); the engine splits,
//! tokenizes, batches and decodes it as it would any input. Only the labels the corpus
//! annotates are scored; predictions of other labels are left out.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::corpus::casing::{recase, Case};
use crate::corpus::CorpusSpec;
use crate::ner::NerEngine;
use crate::normalize::Normalizer;
use crate::types::{CharIndex, DocSource, Document, EntityLabel, Mention, Span};

#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq)]
pub struct Prf {
    pub tp: usize,
    pub fp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Prf {
    pub fn from_counts(tp: usize, fp: usize, fn_: usize) -> Self {
        let precision = if tp + fp == 0 {
            0.0
        } else {
            tp as f64 / (tp + fp) as f64
        };
        let recall = if tp + fn_ == 0 {
            0.0
        } else {
            tp as f64 / (tp + fn_) as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Prf {
            tp,
            fp,
            fn_,
            precision,
            recall,
            f1,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub corpus: String,
    pub split: String,
    pub sentences: usize,
    pub per_label: BTreeMap<EntityLabel, Prf>,
    pub micro: Prf,
    /// ORGANIZATION and COMPANY scored as one label (gold and predicted), where the corpus
    /// annotates organizations: the measure of finding organization names at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_company_merged: Option<Prf>,
    /// The case the test sentences were rewritten in (`--case`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<Case>,
    /// Up to [`EvalOptions::errors`] false positives and false negatives, for error analysis
    /// on dev splits: `FP|FN <TAB> label <TAB> mention <TAB> sentence`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    pub seconds: f64,
}

/// How [`evaluate_with`] scores.
#[derive(Default)]
pub struct EvalOptions<'a> {
    /// Score the labels `extract` writes after normalization (None: the model's own labels).
    pub normalizer: Option<&'a Normalizer<'a>>,
    /// Rewrite the sentences in this case first (same byte lengths, so gold spans hold).
    pub case: Option<Case>,
    /// At most this many sentences (the first ones; 0 = all).
    pub max_sentences: usize,
    /// List up to this many errors in the report.
    pub errors: usize,
}

impl EvalReport {
    /// The figure model selection uses: ORGANIZATION+COMPANY merged where scored, else micro F1.
    pub fn selection_f1(&self) -> f64 {
        self.org_company_merged.map_or(self.micro.f1, |m| m.f1)
    }
}

/// Score predicted against gold entity sets: `(sentence, span, label)` triples.
pub fn score(
    gold: &HashSet<(usize, Span, EntityLabel)>,
    pred: &HashSet<(usize, Span, EntityLabel)>,
    labels: &BTreeSet<EntityLabel>,
) -> (BTreeMap<EntityLabel, Prf>, Prf) {
    let mut per_label = BTreeMap::new();
    let (mut tp_all, mut fp_all, mut fn_all) = (0, 0, 0);
    for &l in labels {
        let g: HashSet<_> = gold.iter().filter(|e| e.2 == l).collect();
        let p: HashSet<_> = pred.iter().filter(|e| e.2 == l).collect();
        let tp = g.intersection(&p).count();
        let (fp, fn_) = (p.len() - tp, g.len() - tp);
        tp_all += tp;
        fp_all += fp;
        fn_all += fn_;
        per_label.insert(l, Prf::from_counts(tp, fp, fn_));
    }
    (per_label, Prf::from_counts(tp_all, fp_all, fn_all))
}

/// `normalizer`: score the labels `extract` would write after normalization (None: the
/// model's own labels).
pub fn evaluate(
    engine: &NerEngine,
    spec: &CorpusSpec,
    data_dir: &Path,
    split: &str,
    normalizer: Option<&Normalizer>,
) -> Result<EvalReport> {
    let options = EvalOptions {
        normalizer,
        ..Default::default()
    };
    evaluate_with(engine, spec, data_dir, split, &options)
}

/// [`evaluate`] with [`EvalOptions`].
pub fn evaluate_with(
    engine: &NerEngine,
    spec: &CorpusSpec,
    data_dir: &Path,
    split: &str,
    options: &EvalOptions,
) -> Result<EvalReport> {
    let EvalOptions {
        normalizer,
        case,
        max_sentences,
        errors: max_errors,
    } = *options;
    let started = std::time::Instant::now();
    let mut sentences = spec.load(data_dir, split)?;
    if max_sentences > 0 {
        sentences.truncate(max_sentences);
    }
    if let Some(case) = case {
        for s in &mut sentences {
            s.text = recase(&s.text, case);
        }
    }
    let labels: BTreeSet<EntityLabel> = spec
        .annotated()
        .into_iter()
        .filter(|l| engine.labels().contains(l))
        .collect();
    let mut gold = HashSet::new();
    let mut pred = HashSet::new();
    // Spans of types the corpus annotates but we do not map (bands, JNLPBA DNA/RNA…): neither
    // gold nor "O", so a prediction over one is not counted.
    let mut ignored: BTreeMap<usize, Vec<Span>> = BTreeMap::new();
    for (chunk_no, chunk) in sentences.chunks(512).enumerate() {
        let docs: Vec<Document> = chunk
            .iter()
            .enumerate()
            .map(|(k, s)| Document {
                id: format!("{}", chunk_no * 512 + k),
                source: DocSource {
                    path: spec.name.into(),
                    line: None,
                },
                text: s.text.clone(),
            })
            .collect();
        let anns = engine.annotate(&docs)?;
        for (k, (s, ann)) in chunk.iter().zip(anns).enumerate() {
            let i = chunk_no * 512 + k;
            let chars = CharIndex::new(&s.text);
            for (span, l) in &s.entities {
                if labels.contains(l) {
                    gold.insert((i, chars.span(*span), *l));
                }
            }
            if !s.ignored.is_empty() {
                ignored.insert(i, s.ignored.iter().map(|span| chars.span(*span)).collect());
            }
            let mentions: Vec<Mention> = ann.mentions.into_iter().map(|(_, m)| m).collect();
            // With a normalizer, labels are the normalized ones (COMPANY/ORGANIZATION
            // evidence, short forms), as `extract` writes them.
            let final_labels: Vec<EntityLabel> = match normalizer {
                Some(n) => n
                    .document(&s.text, &mentions)
                    .into_iter()
                    .map(|l| l.label)
                    .collect(),
                None => mentions.iter().map(|m| m.label).collect(),
            };
            for (m, l) in mentions.iter().zip(final_labels) {
                if labels.contains(&l) {
                    pred.insert((i, m.span, l));
                }
            }
        }
    }
    pred.retain(|e| {
        gold.contains(e)
            || !ignored
                .get(&e.0)
                .is_some_and(|spans| spans.iter().any(|span| span.overlaps(&e.1)))
    });
    let (per_label, micro) = score(&gold, &pred, &labels);
    let org_company_merged = labels.contains(&EntityLabel::Organization).then(|| {
        let merge = |set: &HashSet<(usize, Span, EntityLabel)>| -> HashSet<_> {
            set.iter()
                .filter(|e| matches!(e.2, EntityLabel::Organization | EntityLabel::Company))
                .map(|&(i, s, _)| (i, s, EntityLabel::Organization))
                .collect()
        };
        score(
            &merge(&gold),
            &merge(&pred),
            &[EntityLabel::Organization].into(),
        )
        .1
    });
    let mut errors = Vec::new();
    if max_errors > 0 {
        let describe = |kind: &str, &(i, span, l): &(usize, Span, EntityLabel)| {
            let text: &str = &sentences[i].text;
            let chars: Vec<char> = text.chars().collect();
            let mention: String = chars[span.start.min(chars.len())..span.end.min(chars.len())]
                .iter()
                .collect();
            format!("{kind}\t{l}\t{mention}\t{text}")
        };
        let mut fp: Vec<_> = pred.difference(&gold).collect();
        let mut fn_: Vec<_> = gold.difference(&pred).collect();
        fp.sort();
        fn_.sort();
        errors.extend(fp.into_iter().take(max_errors).map(|e| describe("FP", e)));
        errors.extend(fn_.into_iter().take(max_errors).map(|e| describe("FN", e)));
    }
    Ok(EvalReport {
        corpus: spec.name.into(),
        split: split.into(),
        sentences: sentences.len(),
        per_label,
        micro,
        org_company_merged,
        case,
        errors,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_match_scoring() {
        let d = EntityLabel::Disease;
        let c = EntityLabel::CellType;
        let gold: HashSet<_> = [
            (0, Span::new(0, 5), d),
            (0, Span::new(10, 15), c),
            (1, Span::new(0, 3), d),
        ]
        .into();
        // One exact hit, one boundary miss (counts as FP + FN), one label never predicted.
        let pred: HashSet<_> = [(0, Span::new(0, 5), d), (1, Span::new(0, 4), d)].into();
        let (per, micro) = score(&gold, &pred, &[d, c].into());
        assert_eq!((per[&d].tp, per[&d].fp, per[&d].fn_), (1, 1, 1));
        assert_eq!((per[&c].tp, per[&c].fp, per[&c].fn_), (0, 0, 1));
        assert!((micro.precision - 0.5).abs() < 1e-9);
        assert!((micro.recall - 1.0 / 3.0).abs() < 1e-9);
        assert!((micro.f1 - 0.4).abs() < 1e-9);
    }
}
