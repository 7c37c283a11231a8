//! Measuring normalization: abbreviation detection against a hand-made gold set, and disease
//! linking against the gold MeSH / OMIM ids of the NCBI-disease and BC5CDR PubTator files.
//!
//! Linking is scored on gold mentions (so NER errors do not count here): a mention is
//! *reachable* when one of its gold ids is a cross-reference of some lexicon concept, and
//! *correct* when the chosen concept carries one of its gold ids. Composite mentions
//! ("D001|D002") count as correct when any part matches.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::normalize::abbrev::{find_abbreviations, AbbreviationMap};
use crate::normalize::lexicon::Lexicon;
use crate::normalize::Normalizer;
use crate::types::EntityLabel;

#[derive(Debug, Deserialize)]
struct AbbrevDoc {
    doc_id: String,
    text: String,
    definitions: Vec<GoldDefinition>,
}

#[derive(Debug, Deserialize, Clone, PartialEq, Eq, Hash)]
struct GoldDefinition {
    short: String,
    long: String,
}

#[derive(Debug, Serialize)]
pub struct AbbrevReport {
    pub documents: usize,
    pub gold: usize,
    pub predicted: usize,
    pub correct: usize,
    pub precision: f64,
    pub recall: f64,
    /// Pairs whose short form is right but whose long form differs from the gold one.
    pub long_form_mismatches: Vec<String>,
    pub missed: Vec<String>,
    pub spurious: Vec<String>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Score the abbreviation detector on a gold file (JSONL: doc_id, text, definitions
/// [{short, long}]). A definition counts once per document; short and long forms must match
/// exactly.
pub fn abbreviations(gold_path: &Path) -> Result<AbbrevReport> {
    let text = fs::read_to_string(gold_path)
        .with_context(|| format!("cannot read {}", gold_path.display()))?;
    let mut r = AbbrevReport {
        documents: 0,
        gold: 0,
        predicted: 0,
        correct: 0,
        precision: 0.0,
        recall: 0.0,
        long_form_mismatches: Vec::new(),
        missed: Vec::new(),
        spurious: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let doc: AbbrevDoc = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a gold record", gold_path.display(), n + 1))?;
        r.documents += 1;
        let gold: HashSet<GoldDefinition> = doc.definitions.into_iter().collect();
        let mut predicted: HashSet<GoldDefinition> = HashSet::new();
        let mut seen_short = HashSet::new();
        for a in find_abbreviations(&doc.text) {
            if seen_short.insert(a.short.clone()) {
                predicted.insert(GoldDefinition {
                    short: a.short,
                    long: a.long,
                });
            }
        }
        r.gold += gold.len();
        r.predicted += predicted.len();
        let gold_by_short: HashMap<&str, &str> = gold
            .iter()
            .map(|g| (g.short.as_str(), g.long.as_str()))
            .collect();
        for p in &predicted {
            if gold.contains(p) {
                r.correct += 1;
            } else if let Some(long) = gold_by_short.get(p.short.as_str()) {
                r.long_form_mismatches.push(format!(
                    "{}: {} = {:?}, gold {:?}",
                    doc.doc_id, p.short, p.long, long
                ));
            } else {
                r.spurious
                    .push(format!("{}: {} = {:?}", doc.doc_id, p.short, p.long));
            }
        }
        for g in &gold {
            if !predicted.contains(g) {
                r.missed
                    .push(format!("{}: {} = {:?}", doc.doc_id, g.short, g.long));
            }
        }
    }
    r.precision = ratio(r.correct, r.predicted);
    r.recall = ratio(r.correct, r.gold);
    r.long_form_mismatches.sort();
    r.missed.sort();
    r.spurious.sort();
    Ok(r)
}

/// One document of a PubTator file.
#[derive(Debug, Default)]
pub struct PubtatorDoc {
    pub pmid: String,
    pub text: String,
    pub mentions: Vec<PubtatorMention>,
}

#[derive(Debug, Clone)]
pub struct PubtatorMention {
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub kind: String,
    /// Normalized gold ids: "MESH:D009369", "OMIM:215600"; empty for "-1".
    pub ids: Vec<String>,
}

/// Parse a PubTator file (title, abstract, then one tab-separated line per mention).
pub fn read_pubtator(path: &Path) -> Result<Vec<PubtatorDoc>> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut docs: Vec<PubtatorDoc> = Vec::new();
    let mut cur: Option<PubtatorDoc> = None;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            docs.extend(cur.take());
            continue;
        }
        if let Some((pmid, rest)) = line.split_once('|') {
            if let Some(title) = rest.strip_prefix("t|") {
                docs.extend(cur.take());
                cur = Some(PubtatorDoc {
                    pmid: pmid.to_string(),
                    text: title.to_string(),
                    mentions: Vec::new(),
                });
                continue;
            }
            if let Some(abs) = rest.strip_prefix("a|") {
                let d = cur.as_mut().with_context(|| {
                    format!("{}:{}: abstract before title", path.display(), n + 1)
                })?;
                d.text.push(' ');
                d.text.push_str(abs);
                continue;
            }
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() >= 6 && f[1] != "CID" {
            let d = cur.as_mut().with_context(|| {
                format!("{}:{}: mention outside a document", path.display(), n + 1)
            })?;
            let parse = |s: &str| -> Result<usize> {
                s.parse()
                    .with_context(|| format!("{}:{}: bad offset {s:?}", path.display(), n + 1))
            };
            let ids = f[5]
                .split(['|', '+'])
                .filter(|x| !x.is_empty() && *x != "-1")
                .map(|x| {
                    if x.starts_with("OMIM:") {
                        x.to_string()
                    } else {
                        format!("MESH:{x}")
                    }
                })
                .collect();
            d.mentions.push(PubtatorMention {
                start: parse(f[1])?,
                end: parse(f[2])?,
                text: f[3].to_string(),
                kind: f[4].to_string(),
                ids,
            });
        }
    }
    docs.extend(cur);
    if docs.is_empty() {
        bail!("{}: no PubTator documents", path.display());
    }
    Ok(docs)
}

/// Which PubTator file holds a corpus split.
pub fn pubtator_file(data: &Path, corpus: &str, split: &str) -> Result<std::path::PathBuf> {
    let name = match (corpus, split) {
        ("ncbi-disease", "train") => "ncbi-disease/original/NCBItrainset_corpus.txt",
        ("ncbi-disease", "dev") => "ncbi-disease/original/NCBIdevelopset_corpus.txt",
        ("ncbi-disease", "test") => "ncbi-disease/original/NCBItestset_corpus.txt",
        ("bc5cdr", "train") => "bc5cdr/original/CDR_TrainingSet.PubTator.txt",
        ("bc5cdr", "dev") => "bc5cdr/original/CDR_DevelopmentSet.PubTator.txt",
        ("bc5cdr", "test") => "bc5cdr/original/CDR_TestSet.PubTator.txt",
        _ => bail!("linking is measured on ncbi-disease or bc5cdr, splits train/dev/test (got {corpus} {split})"),
    };
    Ok(data.join(name))
}

#[derive(Debug, Serialize)]
pub struct LinkReport {
    pub corpus: String,
    pub split: String,
    /// Gold disease mentions.
    pub mentions: usize,
    /// ... with a gold id.
    pub with_id: usize,
    /// ... whose gold id is a cross-reference of some lexicon concept.
    pub reachable: usize,
    /// reachable / with_id: what the cross-references allow.
    pub ceiling: f64,
    /// Mentions the normalizer linked to some concept.
    pub linked: usize,
    /// Linked to a concept carrying the gold id.
    pub correct: usize,
    /// correct / reachable: the target figure.
    pub accuracy_of_reachable: f64,
    /// correct / with_id.
    pub accuracy_overall: f64,
    /// correct / linked among reachable mentions.
    pub precision_of_reachable: f64,
    /// Most frequent wrong or missing links among reachable mentions (text → chosen concept).
    pub top_errors: Vec<(String, usize)>,
}

/// Link every gold disease mention of `corpus`/`split` on its own (with the document's
/// abbreviations) and score the concept against the gold ids; `max_errors` most frequent wrong
/// or missing links are listed.
pub fn linking(
    lex: &Lexicon,
    data: &Path,
    corpus: &str,
    split: &str,
    max_errors: usize,
) -> Result<LinkReport> {
    let docs = read_pubtator(&pubtator_file(data, corpus, split)?)?;
    let all_xrefs: HashSet<&str> = (0..lex.len() as u32)
        .flat_map(|i| lex.concept(i).xrefs.iter().map(String::as_str))
        .collect();
    let normalizer = Normalizer::new(lex);
    let mut r = LinkReport {
        corpus: corpus.to_string(),
        split: split.to_string(),
        mentions: 0,
        with_id: 0,
        reachable: 0,
        ceiling: 0.0,
        linked: 0,
        correct: 0,
        accuracy_of_reachable: 0.0,
        accuracy_overall: 0.0,
        precision_of_reachable: 0.0,
        top_errors: Vec::new(),
    };
    let mut linked_reachable = 0;
    let mut errors: HashMap<String, usize> = HashMap::new();
    for doc in &docs {
        let abbrevs = AbbreviationMap::of_text(&doc.text);
        for m in doc.mentions.iter().filter(|m| m.kind != "Chemical") {
            r.mentions += 1;
            if m.ids.is_empty() {
                continue;
            }
            r.with_id += 1;
            let reachable = m.ids.iter().any(|x| all_xrefs.contains(x.as_str()));
            r.reachable += usize::from(reachable);
            let linked = normalizer.mention(EntityLabel::Disease, &m.text, "", &abbrevs);
            let concept = linked.link.map(|l| lex.concept(l.concept));
            r.linked += usize::from(concept.is_some());
            let correct = concept.is_some_and(|c| m.ids.iter().any(|g| c.xrefs.contains(g)));
            r.correct += usize::from(correct);
            if reachable {
                linked_reachable += usize::from(concept.is_some());
                if !correct {
                    let got = concept.map_or("-".to_string(), |c| format!("{} {}", c.id, c.name));
                    *errors
                        .entry(format!("{} → {} (gold {})", m.text, got, m.ids.join("|")))
                        .or_default() += 1;
                }
            }
        }
    }
    r.ceiling = ratio(r.reachable, r.with_id);
    r.accuracy_of_reachable = ratio(r.correct, r.reachable);
    r.accuracy_overall = ratio(r.correct, r.with_id);
    r.precision_of_reachable = ratio(r.correct, linked_reachable);
    let mut errors: Vec<(String, usize)> = errors.into_iter().collect();
    errors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    errors.truncate(max_errors);
    r.top_errors = errors;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pubtator_parses_documents_mentions_and_ids() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.txt");
        fs::write(
            &p,
            "1|t|Wilson disease.\n1|a|Wilson disease (WD) is rare.\n\
             1\t0\t14\tWilson disease\tSpecificDisease\tD006527\n\
             1\t16\t18\tWD\tSpecificDisease\tD006527|OMIM:277900\n\
             1\tCID\tD1\tD2\n\n\
             2|t|T\n2|a|A\n2\t0\t1\tT\tDisease\t-1\n",
        )
        .unwrap();
        let docs = read_pubtator(&p).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].text, "Wilson disease. Wilson disease (WD) is rare.");
        assert_eq!(docs[0].mentions.len(), 2);
        assert_eq!(docs[0].mentions[1].ids, vec!["MESH:D006527", "OMIM:277900"]);
        assert!(docs[1].mentions[0].ids.is_empty());
    }

    #[test]
    fn the_abbreviation_gold_set_meets_its_targets() {
        let gold = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/eval/abbreviations.jsonl");
        let r = abbreviations(&gold).unwrap();
        assert!(r.gold >= 100, "{} gold definitions", r.gold);
        assert!(
            r.precision >= 0.95,
            "precision {:.3}: {:?}",
            r.precision,
            r.spurious
        );
        assert!(r.recall >= 0.85, "recall {:.3}: {:?}", r.recall, r.missed);
    }
}
