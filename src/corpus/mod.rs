//! The public NER corpora in `../shared/data` and how their tags map onto the product's labels.
//!
//! Each corpus annotates only some of our types; [`CorpusSpec::annotated`] says which, so the
//! trainer masks the loss of the others and the evaluator scores only those.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::types::{EntityLabel, Span};

pub mod casing;
pub mod formal;
pub mod lists;

/// What a corpus tag becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Label(EntityLabel),
    /// Mentions the corpus annotates with a type we cannot map cleanly: their tokens are left
    /// out of the loss (neither entity nor "O").
    Ignore,
    /// `Cell` in BioNLP13CG mixes cell types and cell lines: plain cell-type phrases ("T
    /// cells", "natural killer cells") become CELL_TYPE, the rest are ignored.
    CellTypeIfPlain,
}

#[derive(Debug, Clone, Copy)]
pub enum Format {
    /// `token<TAB>tag`, blank line between sentences, `-DOCSTART-` lines skipped.
    Conll,
    /// MultiCoNER II: `token _ _ tag`, `# id …` line before each sentence.
    MultiConer,
    /// Sentences generated from the ROR and SEC name lists (see [`lists`]); the split's
    /// "file" is the number of sentences.
    NameLists,
    /// The six corpora of `formal-orgs/`, split by document (see [`formal`]).
    FormalOrgs,
    /// PubTator abstracts (`PMID|t|`, `PMID|a|`, then mention lines with character offsets):
    /// each abstract is one [`Sentence`] holding the whole document (title, space, abstract),
    /// for document-level evaluation.
    PubTator,
}

/// A corpus: where its splits live and what its tags mean.
#[derive(Debug, Clone)]
pub struct CorpusSpec {
    pub name: &'static str,
    pub format: Format,
    /// (split, files relative to the data folder).
    pub splits: &'static [(&'static str, &'static [&'static str])],
    pub map: &'static [(&'static str, Target)],
    /// Hold out this fraction of `train` as `test` (MultiCoNER: its dev split is withheld).
    pub holdout: Option<f64>,
}

use EntityLabel::*;
use Target::*;

pub const CORPORA: &[CorpusSpec] = &[
    CorpusSpec {
        name: "ncbi-disease",
        format: Format::Conll,
        splits: &[
            ("train", &["ncbi-disease/conll/train.tsv"]),
            ("dev", &["ncbi-disease/conll/devel.tsv"]),
            ("test", &["ncbi-disease/conll/test.tsv"]),
        ],
        map: &[("Disease", Label(Disease))],
        holdout: None,
    },
    CorpusSpec {
        name: "bc5cdr",
        format: Format::Conll,
        splits: &[
            ("train", &["bc5cdr/conll/train.tsv"]),
            ("dev", &["bc5cdr/conll/devel.tsv"]),
            ("test", &["bc5cdr/conll/test.tsv"]),
        ],
        map: &[("Disease", Label(Disease)), ("Chemical", Label(Chemical))],
        holdout: None,
    },
    CorpusSpec {
        name: "jnlpba",
        format: Format::Conll,
        splits: &[
            ("train", &["jnlpba/conll/train.tsv"]),
            ("dev", &["jnlpba/conll/devel.tsv"]),
            ("test", &["jnlpba/conll/test.tsv"]),
        ],
        map: &[
            ("cell_type", Label(CellType)),
            ("cell_line", Label(CellLine)),
            ("protein", Label(GeneOrProtein)),
            ("DNA", Ignore),
            ("RNA", Ignore),
        ],
        holdout: None,
    },
    CorpusSpec {
        name: "bionlp13cg",
        format: Format::Conll,
        splits: &[
            ("train", &["bionlp13cg/conll/train.tsv"]),
            ("dev", &["bionlp13cg/conll/devel.tsv"]),
        ],
        map: &[
            ("Cell", CellTypeIfPlain),
            ("Cancer", Label(Disease)),
            ("Gene_or_gene_product", Label(GeneOrProtein)),
            ("Simple_chemical", Label(Chemical)),
        ],
        holdout: None,
    },
    CorpusSpec {
        name: "wnut17",
        format: Format::Conll,
        splits: &[
            ("train", &["wnut17/wnut17train.conll"]),
            ("dev", &["wnut17/emerging.dev.conll"]),
            ("test", &["wnut17/emerging.test.annotated"]),
        ],
        map: &[
            ("corporation", Label(Company)),
            ("group", Label(Organization)),
        ],
        holdout: None,
    },
    CorpusSpec {
        name: "multiconer2",
        format: Format::MultiConer,
        splits: &[(
            "train",
            &[
                "multiconer2-en/en-train90.conll",
                "multiconer2-en/en-train10.conll",
            ],
        )],
        map: &[
            ("ORG", Label(Organization)),
            ("PublicCorp", Label(Company)),
            ("PrivateCorp", Label(Company)),
            ("AerospaceManufacturer", Label(Company)),
            ("CarManufacturer", Label(Company)),
            ("Disease", Label(Disease)),
            ("MusicalGRP", Ignore),
            ("SportsGRP", Ignore),
        ],
        holdout: Some(0.1),
    },
    CorpusSpec {
        name: "formal-orgs",
        format: Format::FormalOrgs,
        splits: &[("train", &[]), ("dev", &[]), ("test", &[])],
        map: &[
            ("ORGANIZATION", Label(Organization)),
            ("COMPANY", Label(Company)),
        ],
        holdout: None,
    },
    CorpusSpec {
        name: "ncbi-disease-docs",
        format: Format::PubTator,
        splits: &[
            ("train", &["ncbi-disease/original/NCBItrainset_corpus.txt"]),
            ("dev", &["ncbi-disease/original/NCBIdevelopset_corpus.txt"]),
            ("test", &["ncbi-disease/original/NCBItestset_corpus.txt"]),
        ],
        map: &[
            ("SpecificDisease", Label(Disease)),
            ("DiseaseClass", Label(Disease)),
            ("Modifier", Label(Disease)),
            ("CompositeMention", Label(Disease)),
        ],
        holdout: None,
    },
    CorpusSpec {
        name: "bc5cdr-docs",
        format: Format::PubTator,
        splits: &[
            ("train", &["bc5cdr/original/CDR_TrainingSet.PubTator.txt"]),
            ("dev", &["bc5cdr/original/CDR_DevelopmentSet.PubTator.txt"]),
            ("test", &["bc5cdr/original/CDR_TestSet.PubTator.txt"]),
        ],
        map: &[("Disease", Label(Disease)), ("Chemical", Label(Chemical))],
        holdout: None,
    },
    CorpusSpec {
        name: "org-lists",
        format: Format::NameLists,
        splits: &[("train", &["4000"]), ("test", &["600"])],
        map: &[
            ("ORGANIZATION", Label(Organization)),
            ("COMPANY", Label(Company)),
        ],
        holdout: None,
    },
];

impl CorpusSpec {
    pub fn find(name: &str) -> Result<&'static CorpusSpec> {
        CORPORA.iter().find(|c| c.name == name).with_context(|| {
            let names: Vec<_> = CORPORA.iter().map(|c| c.name).collect();
            format!("unknown corpus {name:?}; known: {}", names.join(", "))
        })
    }

    /// The product labels this corpus annotates (the heads its sentences train and are scored on).
    pub fn annotated(&self) -> BTreeSet<EntityLabel> {
        self.map
            .iter()
            .filter_map(|(_, t)| match t {
                Label(l) => Some(*l),
                CellTypeIfPlain => Some(CellType),
                Ignore => None,
            })
            .collect()
    }

    fn target(&self, tag: &str) -> Option<Target> {
        self.map.iter().find(|(t, _)| *t == tag).map(|(_, t)| *t)
    }

    /// Load a split: `train`, `dev` or `test`. For corpora with a hold-out, `train` excludes
    /// and `test` is the held-out sentences (chosen by a hash of the sentence, so stable).
    pub fn load(&self, data_dir: &Path, split: &str) -> Result<Vec<Sentence>> {
        let file_split = if self.holdout.is_some() && split == "test" {
            "train"
        } else {
            split
        };
        let files = self
            .splits
            .iter()
            .find(|(s, _)| *s == file_split)
            .map(|(_, f)| *f)
            .with_context(|| format!("corpus {} has no {split} split", self.name))?;
        let mut out = Vec::new();
        match self.format {
            Format::NameLists => {
                let n: usize = files[0].parse().expect("sentence count");
                // Different seeds per split, so test names and templates are drawn afresh.
                return lists::sentences(data_dir, n, stable_hash(split));
            }
            Format::FormalOrgs => return formal::load(data_dir, split),
            Format::PubTator => {
                for f in files {
                    out.extend(self.read_pubtator(&data_dir.join(f))?);
                }
                return Ok(out);
            }
            Format::Conll | Format::MultiConer => {}
        }
        for f in files {
            let path = data_dir.join(f);
            out.extend(self.read_file(&path)?);
        }
        if let Some(frac) = self.holdout {
            let want_test = split == "test";
            let cut = (frac * 1000.0) as u64;
            out.retain(|s| ((stable_hash(&s.tokens.join(" ")) % 1000) < cut) == want_test);
        }
        Ok(out)
    }

    fn read_file(&self, path: &Path) -> Result<Vec<Sentence>> {
        let file = File::open(path).with_context(|| {
            format!(
                "cannot open {} (training and evaluation read the corpora in ../shared/data; pass --data DIR to point elsewhere)",
                path.display()
            )
        })?;
        let mut sentences = Vec::new();
        let mut tokens: Vec<String> = Vec::new();
        let mut tags: Vec<String> = Vec::new();
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line =
                line.with_context(|| format!("{}:{}: cannot read line", path.display(), n + 1))?;
            let line = line.trim_end_matches(['\r', '\n']);
            if line.trim().is_empty() || line.starts_with("# id ") || line.starts_with("-DOCSTART-")
            {
                if !tokens.is_empty() {
                    sentences.push(
                        self.sentence(std::mem::take(&mut tokens), std::mem::take(&mut tags)),
                    );
                }
                continue;
            }
            let fields: Vec<&str> = match self.format {
                Format::Conll => line.split('\t').collect(),
                Format::MultiConer => line.split(' ').collect(),
                Format::NameLists | Format::FormalOrgs | Format::PubTator => {
                    unreachable!("read elsewhere")
                }
            };
            if fields.len() < 2 || fields[0].trim().is_empty() {
                bail!(
                    "{}:{}: expected `token<sep>tag`, got {line:?}",
                    path.display(),
                    n + 1
                );
            }
            tokens.push(fields[0].to_string());
            tags.push(fields[fields.len() - 1].to_string());
        }
        if !tokens.is_empty() {
            sentences.push(self.sentence(tokens, tags));
        }
        Ok(sentences)
    }

    /// PubTator documents: title + " " + abstract, mentions at character offsets.
    fn read_pubtator(&self, path: &Path) -> Result<Vec<Sentence>> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot open {} (training and evaluation read the corpora in ../shared/data; pass --data DIR to point elsewhere)",
                path.display()
            )
        })?;
        let mut out = Vec::new();
        for block in text.split("\n\n") {
            let mut title = "";
            let mut abstract_ = "";
            let mut mentions: Vec<(usize, usize, &str)> = Vec::new();
            for line in block.lines() {
                if let Some((_, t)) = line.split_once("|t|") {
                    title = t;
                } else if let Some((_, a)) = line.split_once("|a|") {
                    abstract_ = a;
                } else {
                    let f: Vec<&str> = line.split('\t').collect();
                    if f.len() >= 5 {
                        if let (Ok(a), Ok(b)) = (f[1].parse(), f[2].parse()) {
                            mentions.push((a, b, f[4]));
                        }
                    }
                }
            }
            if title.is_empty() && abstract_.is_empty() {
                continue;
            }
            let doc = format!("{title} {abstract_}");
            let chars = crate::types::CharIndex::new(&doc);
            let limit = doc.chars().count();
            let bytes = |c: usize| chars.byte_offset(c.min(limit));
            let mut entities = Vec::new();
            let mut ignored = Vec::new();
            for (a, b, kind) in mentions {
                let span = Span::new(bytes(a), bytes(b));
                match self.target(kind) {
                    Some(Label(l)) => entities.push((span, l)),
                    Some(_) => ignored.push(span),
                    None => {}
                }
            }
            entities.sort_by_key(|(s, l)| (s.start, s.end, *l));
            entities.dedup();
            out.push(Sentence {
                tokens: doc.split_whitespace().map(String::from).collect(),
                text: doc,
                entities,
                ignored,
                masked: Vec::new(),
            });
        }
        Ok(out)
    }

    /// Build a sentence: tokens joined by single spaces, gold spans in that text (bytes).
    fn sentence(&self, tokens: Vec<String>, tags: Vec<String>) -> Sentence {
        let (text, token_spans) = join_tokens(&tokens);
        let mut entities = Vec::new();
        let mut ignored = Vec::new();
        for (i, j, kind) in bio_chunks(&tags) {
            let span = Span::new(token_spans[i].start, token_spans[j - 1].end);
            match self.target(kind) {
                Some(Label(l)) => entities.push((span, l)),
                Some(CellTypeIfPlain) if is_plain_cell_type(&tokens[i..j]) => {
                    entities.push((span, CellType))
                }
                Some(CellTypeIfPlain) | Some(Ignore) => ignored.push(span),
                None => {}
            }
        }
        Sentence {
            text,
            tokens,
            entities,
            ignored,
            masked: Vec::new(),
        }
    }
}

/// Tokens joined by single spaces, with each token's byte span in the text.
pub(crate) fn join_tokens(tokens: &[String]) -> (String, Vec<Span>) {
    let mut text = String::new();
    let mut spans = Vec::with_capacity(tokens.len());
    for t in tokens {
        if !text.is_empty() {
            text.push(' ');
        }
        spans.push(Span::new(text.len(), text.len() + t.len()));
        text.push_str(t);
    }
    (text, spans)
}

/// Chunks of BIO tags as token ranges `[i, j)` with their type: `B-x` or `I-x` starts one
/// (an `I-` after another type too, as IOB1 and seqeval read it), `I-x` continues it.
pub(crate) fn bio_chunks(tags: &[String]) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tags.len() {
        let Some(kind) = tags[i]
            .strip_prefix("B-")
            .or_else(|| tags[i].strip_prefix("I-"))
        else {
            i += 1;
            continue;
        };
        let mut j = i + 1;
        while j < tags.len() && tags[j].strip_prefix("I-") == Some(kind) {
            j += 1;
        }
        out.push((i, j, kind));
        i = j;
    }
    out
}

/// "T cells", "natural killer cells", "NK cells", "macrophages": lowercase words, optionally
/// after a short capital marker. Cell lines ("HeLa cells", "MCF-7", "Jurkat T cells") are not.
fn is_plain_cell_type(tokens: &[String]) -> bool {
    let first = &tokens[0];
    let marker = first.len() <= 3 && first.chars().all(|c| c.is_ascii_uppercase());
    tokens
        .iter()
        .enumerate()
        .all(|(k, t)| (k == 0 && marker) || t.chars().all(|c| c.is_lowercase() || c == '-'))
}

/// FNV-1a: a hash that never changes between runs or platforms.
pub fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// One gold sentence.
#[derive(Debug, Clone)]
pub struct Sentence {
    /// Tokens joined by single spaces.
    pub text: String,
    pub tokens: Vec<String>,
    /// Gold entities in byte offsets of `text`.
    pub entities: Vec<(Span, EntityLabel)>,
    /// Spans whose tokens are left out of the loss.
    pub ignored: Vec<Span>,
    /// Spans left out of the loss of one head only (a generic organization may be a company:
    /// the COMPANY head is not taught either way there).
    pub masked: Vec<(Span, EntityLabel)>,
}

/// The default data folder: `$BIOTABLE_DATA`, else `../shared/data` next to the repository.
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("BIOTABLE_DATA") {
        return PathBuf::from(d);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.join("../shared/data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_spans_and_maps_tags() {
        let spec = CorpusSpec::find("bionlp13cg").unwrap();
        let toks = [
            "The", "HeLa", "cells", "and", "NK", "cells", "in", "breast", "cancer",
        ];
        let tags = [
            "O", "B-Cell", "I-Cell", "O", "B-Cell", "I-Cell", "O", "B-Cancer", "I-Cancer",
        ];
        let s = spec.sentence(
            toks.iter().map(|s| s.to_string()).collect(),
            tags.iter().map(|s| s.to_string()).collect(),
        );
        assert_eq!(s.text, "The HeLa cells and NK cells in breast cancer");
        let got: Vec<(&str, EntityLabel)> = s
            .entities
            .iter()
            .map(|(sp, l)| (&s.text[sp.start..sp.end], *l))
            .collect();
        assert_eq!(
            got,
            vec![("NK cells", CellType), ("breast cancer", Disease)]
        );
        assert_eq!(s.ignored.len(), 1);
        assert_eq!(&s.text[s.ignored[0].start..s.ignored[0].end], "HeLa cells");
        assert!(spec.annotated().contains(&GeneOrProtein));
        assert!(!spec.annotated().contains(&CellLine));
    }

    #[test]
    fn pubtator_documents_keep_character_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docs.txt");
        std::fs::write(
            &path,
            "1|t|Café au lait spots in neurofibromatosis.\n1|a|NF1 patients.\n1\t22\t39\tneurofibromatosis\tSpecificDisease\tD009456\n1\t41\t44\tNF1\tSpecificDisease\tD009456\n\n",
        )
        .unwrap();
        let spec = CorpusSpec::find("ncbi-disease-docs").unwrap();
        let docs = spec.read_pubtator(&path).unwrap();
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        assert_eq!(
            d.text,
            "Café au lait spots in neurofibromatosis. NF1 patients."
        );
        let got: Vec<&str> = d
            .entities
            .iter()
            .map(|(s, _)| &d.text[s.start..s.end])
            .collect();
        assert_eq!(got, vec!["neurofibromatosis", "NF1"]);
    }

    #[test]
    fn unknown_corpus_names_the_known_ones() {
        let err = CorpusSpec::find("conll03").unwrap_err().to_string();
        assert!(err.contains("ncbi-disease"), "{err}");
    }
}
