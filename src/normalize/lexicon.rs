//! The bundled lexicon: MONDO (+ Disease Ontology cross-references), Cell Ontology, SEC
//! listed companies and ROR organization names, compiled into the binary
//! (`data/lexicon/biotable-lexicon.tsv.gz`, built by `scripts/build-lexicon.py`).
//!
//! Loading parses the file once and indexes every name under its matching keys
//! ([`super::keys`]); lookups are hash probes.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};
use flate2::read::GzDecoder;
use serde::{Deserialize, Serialize};

use super::keys::{bag_key, company_key, org_key, term_key};
use crate::types::EntityLabel;

static BUNDLED: &[u8] = include_bytes!("../../data/lexicon/biotable-lexicon.tsv.gz");

/// Where a concept comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ontology {
    #[serde(rename = "MONDO")]
    Mondo,
    #[serde(rename = "DOID")]
    Doid,
    #[serde(rename = "CL")]
    Cl,
    #[serde(rename = "SEC")]
    Sec,
    #[serde(rename = "ROR")]
    Ror,
}

impl Ontology {
    pub fn as_str(&self) -> &'static str {
        match self {
            Ontology::Mondo => "MONDO",
            Ontology::Doid => "DOID",
            Ontology::Cl => "CL",
            Ontology::Sec => "SEC",
            Ontology::Ror => "ROR",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "MONDO" => Ontology::Mondo,
            "DOID" => Ontology::Doid,
            "CL" => Ontology::Cl,
            "SEC" => Ontology::Sec,
            "ROR" => Ontology::Ror,
            _ => return None,
        })
    }

    /// Preference when two concepts share a name (lower wins).
    fn rank(&self) -> u8 {
        match self {
            Ontology::Mondo | Ontology::Cl | Ontology::Sec => 0,
            Ontology::Doid | Ontology::Ror => 1,
        }
    }
}

/// One entry of the lexicon.
#[derive(Debug, Clone, PartialEq)]
pub struct Concept {
    /// "MONDO:0018874", "CL:0000623", "CIK:0001855485", "ROR-NAME:SE:lund-university".
    pub id: String,
    pub ontology: Ontology,
    pub label: EntityLabel,
    pub name: String,
    /// Cross-references: "DOID:9119", "MESH:D015470", "OMIM:601626".
    pub xrefs: Vec<String>,
    /// Attributes: ticker, exchange (SEC); country, types (ROR).
    pub attrs: Vec<(String, String)>,
}

impl Concept {
    /// Preference when concepts share a name (lower wins): MONDO over DOID, SEC over ROR;
    /// among ROR namesakes ("National Cancer Institute" is in several countries) the US,
    /// then the UK, as English-language news most often means them.
    fn rank(&self) -> u8 {
        let country = match self.attr("country") {
            Some("US") => 0,
            Some("GB") => 1,
            _ => 2,
        };
        self.ontology.rank() * 4 + country
    }

    /// A disease of animals other than humans: MONDO's non-human branch (ids from
    /// MONDO:1000000, e.g. "renal nephropathy, dog") or a name that says so ("simian acquired
    /// immunodeficiency syndrome"). Such a concept never wins over a human one.
    pub fn is_non_human(&self) -> bool {
        const ANIMAL_WORDS: &[&str] = &[
            "simian", "canine", "feline", "bovine", "equine", "porcine", "murine", "avian",
            "ovine", "caprine", "dog", "cat", "cattle", "horse", "pig", "mouse", "chicken",
            "sheep", "goat",
        ];
        let branch = self
            .id
            .strip_prefix("MONDO:")
            .is_some_and(|n| n.len() == 7 && n.starts_with('1'));
        branch
            || self
                .name
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| ANIMAL_WORDS.iter().any(|a| w.eq_ignore_ascii_case(a)))
    }

    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Which index a lookup searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    Disease,
    Cell,
    Company,
    Org,
}

impl Domain {
    fn index(self) -> usize {
        self as usize
    }

    fn key(self, name: &str) -> String {
        match self {
            Domain::Disease | Domain::Cell => term_key(name),
            Domain::Company => company_key(name),
            Domain::Org => org_key(name),
        }
    }
}

/// How a name matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum NameKind {
    /// The concept's preferred name.
    Label = 0,
    /// An exact synonym from the ontology.
    Synonym = 1,
    /// A mention string from an annotated training corpus.
    Corpus = 2,
}

impl NameKind {
    fn quality(self) -> f32 {
        match self {
            NameKind::Label => 1.0,
            NameKind::Synonym => 0.95,
            NameKind::Corpus => 0.9,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    concept: u32,
    kind: NameKind,
}

/// A concept chosen for a name, with a confidence in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    pub concept: u32,
    pub score: f32,
}

#[derive(Default)]
struct Index {
    exact: HashMap<String, Vec<Entry>>,
    bag: HashMap<String, Vec<Entry>>,
    /// The exact key without spaces: "angio-oedema" meets "angioedema".
    compact: HashMap<String, Vec<Entry>>,
    /// Content words of every name (disease and cell domains), for subset matches.
    names: Vec<(Entry, Box<[Box<str>]>)>,
    /// Content word → names holding it.
    postings: HashMap<Box<str>, Vec<u32>>,
}

/// Concepts and their name indexes.
pub struct Lexicon {
    concepts: Vec<Concept>,
    /// Every name and synonym as written (disease and cell names) or as its company or
    /// organization key (SEC names are upper case with state tags), with its domain: the
    /// patterns of the tagger's lexicon features (`ner::lexfeat`).
    surface_names: Vec<(Domain, Box<str>)>,
    indexes: [Index; 4],
    tickers: HashMap<String, u32>,
}

/// Extra words a subset match may leave unmatched in the lexicon's name.
pub const SUBSET_EXTRA: usize = 2;
/// Subset matches are uncertain: the name says more than the mention.
const SUBSET_FACTOR: f32 = 0.8;
/// Words that turn a name into its opposite; a subset match may not add them.
const NEGATIONS: &[&str] = &[
    "non", "not", "no", "without", "absence", "absent", "negative",
];
/// Word-order matches are a little less certain than exact ones.
const BAG_FACTOR: f32 = 0.9;
/// Several concepts share the best name: the first is chosen, with less confidence.
const AMBIGUITY_PENALTY: f32 = 0.15;

impl Lexicon {
    /// The lexicon compiled into the binary, parsed on first use.
    pub fn bundled() -> &'static Lexicon {
        static LEX: OnceLock<Lexicon> = OnceLock::new();
        LEX.get_or_init(|| {
            Lexicon::from_gz(BUNDLED).expect("the bundled lexicon is valid (checked by tests)")
        })
    }

    pub fn from_gz(bytes: impl Read) -> Result<Self> {
        Self::from_reader(BufReader::new(GzDecoder::new(bytes)))
    }

    /// Parse the TSV format written by `scripts/build-lexicon.py`.
    pub fn from_reader(r: impl BufRead) -> Result<Self> {
        let mut lex = Lexicon {
            concepts: Vec::new(),
            surface_names: Vec::new(),
            indexes: Default::default(),
            tickers: HashMap::new(),
        };
        for (n, line) in r.lines().enumerate() {
            let line = line.with_context(|| format!("lexicon line {}", n + 1))?;
            let f: Vec<&str> = line.split('\t').collect();
            match f[0] {
                "C" if f.len() == 7 => {
                    let (Some(ontology), Ok(label)) = (Ontology::parse(f[2]), f[3].parse()) else {
                        bail!("lexicon line {}: bad ontology or label", n + 1);
                    };
                    let split = |s: &str| -> Vec<String> {
                        s.split(';')
                            .filter(|x| !x.is_empty())
                            .map(String::from)
                            .collect()
                    };
                    let attrs = split(f[6])
                        .into_iter()
                        .filter_map(|kv| {
                            kv.split_once('=')
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                        })
                        .collect();
                    lex.push(Concept {
                        id: f[1].to_string(),
                        ontology,
                        label,
                        name: f[4].to_string(),
                        xrefs: split(f[5]),
                        attrs,
                    });
                }
                "S" if f.len() == 3 && !lex.concepts.is_empty() => {
                    let kind = if f[1] == "c" {
                        NameKind::Corpus
                    } else {
                        NameKind::Synonym
                    };
                    let c = lex.concepts.len() as u32 - 1;
                    lex.add_name(c, f[2], kind);
                }
                _ if f[0].starts_with('#') => {}
                _ => bail!("lexicon line {}: unexpected record {:?}", n + 1, f[0]),
            }
        }
        for index in &mut lex.indexes {
            for entries in index
                .exact
                .values_mut()
                .chain(index.bag.values_mut())
                .chain(index.compact.values_mut())
            {
                let concepts = &lex.concepts;
                entries.sort_by_key(|e| {
                    let c = &concepts[e.concept as usize];
                    (c.is_non_human(), e.kind, c.rank(), e.concept)
                });
                entries.dedup_by_key(|e| e.concept);
            }
        }
        Ok(lex)
    }

    fn push(&mut self, c: Concept) {
        let i = self.concepts.len() as u32;
        if c.ontology == Ontology::Sec {
            if let Some(t) = c.attr("ticker") {
                for t in t.split('|') {
                    self.tickers.entry(t.to_string()).or_insert(i);
                }
            }
        }
        let name = c.name.clone();
        self.concepts.push(c);
        self.add_name(i, &name, NameKind::Label);
    }

    fn domain_of(&self, c: u32) -> Domain {
        let c = &self.concepts[c as usize];
        match (c.ontology, c.label) {
            (Ontology::Mondo | Ontology::Doid, _) => Domain::Disease,
            (Ontology::Cl, _) => Domain::Cell,
            (Ontology::Sec, _) | (Ontology::Ror, EntityLabel::Company) => Domain::Company,
            (Ontology::Ror, _) => Domain::Org,
        }
    }

    fn add_name(&mut self, c: u32, name: &str, kind: NameKind) {
        let domain = self.domain_of(c);
        let key = domain.key(name);
        if key.is_empty() {
            return;
        }
        let surface = match domain {
            Domain::Disease | Domain::Cell => name,
            Domain::Company | Domain::Org => key.as_str(),
        };
        self.surface_names.push((domain, surface.into()));
        let index = &mut self.indexes[domain.index()];
        if matches!(domain, Domain::Disease | Domain::Cell) {
            let bag = bag_key(&key);
            if bag != key && !bag.is_empty() {
                index
                    .bag
                    .entry(bag.clone())
                    .or_default()
                    .push(Entry { concept: c, kind });
            }
            index
                .compact
                .entry(key.replace(' ', ""))
                .or_default()
                .push(Entry { concept: c, kind });
            let words: Box<[Box<str>]> = bag
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(Box::from)
                .collect();
            if !words.is_empty() {
                let n = index.names.len() as u32;
                for w in words.iter() {
                    index.postings.entry(w.clone()).or_default().push(n);
                }
                index.names.push((Entry { concept: c, kind }, words));
            }
        }
        // A company is also found under its organization key (ROR companies, "Nasdaq (US)").
        index
            .exact
            .entry(key)
            .or_default()
            .push(Entry { concept: c, kind });
    }

    /// Names and synonyms with their domain (see the field's doc).
    pub fn surface_names(&self) -> &[(Domain, Box<str>)] {
        &self.surface_names
    }

    pub fn concept(&self, i: u32) -> &Concept {
        &self.concepts[i as usize]
    }

    pub fn len(&self) -> usize {
        self.concepts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty()
    }

    /// Concepts carrying a cross-reference (e.g. "MESH:D015470").
    pub fn with_xref<'a>(&'a self, xref: &'a str) -> impl Iterator<Item = u32> + 'a {
        self.concepts
            .iter()
            .enumerate()
            .filter(move |(_, c)| c.xrefs.iter().any(|x| x == xref))
            .map(|(i, _)| i as u32)
    }

    /// The SEC company listed under a ticker.
    pub fn ticker(&self, ticker: &str) -> Option<u32> {
        self.tickers.get(ticker).copied()
    }

    /// Names (disease and cell domains) whose content words include all of `name`'s and at
    /// most [`SUBSET_EXTRA`] more: "congenital chloride diarrhea" finds "congenital secretory
    /// chloride diarrhea 1". The name with the fewest extra words wins (then name kind and
    /// ontology rank); the score falls with each extra word.
    pub fn lookup_subset(&self, domain: Domain, name: &str) -> Option<Link> {
        if !matches!(domain, Domain::Disease | Domain::Cell) {
            return None;
        }
        let bag = bag_key(&domain.key(name));
        let words: Vec<&str> = bag.split(' ').filter(|w| !w.is_empty()).collect();
        if words.len() < 2 {
            return None;
        }
        let index = &self.indexes[domain.index()];
        let rarest = words
            .iter()
            .map(|w| index.postings.get(*w).map_or(&[][..], |p| p.as_slice()))
            .min_by_key(|p| p.len())?;
        let best = rarest
            .iter()
            .map(|&n| &index.names[n as usize])
            .filter(|(e, ws)| {
                ws.len() <= words.len() + SUBSET_EXTRA
                    && words.iter().all(|w| ws.iter().any(|x| &**x == *w))
                    // "insulin dependent diabetes" is not "non-insulin dependent diabetes".
                    && !ws.iter().any(|x| NEGATIONS.contains(&&**x) && !words.contains(&&**x))
                    && !self.concepts[e.concept as usize].is_non_human()
            })
            .min_by_key(|(e, ws)| {
                (
                    ws.len(),
                    e.kind,
                    self.concepts[e.concept as usize].rank(),
                    e.concept,
                )
            })?;
        let extra = (best.1.len() - words.len()) as f32;
        Some(Link {
            concept: best.0.concept,
            score: best.0.kind.quality() * (SUBSET_FACTOR - 0.05 * extra),
        })
    }

    /// The best concept for `name` in `domain`: an exact key match, else a word-order match.
    pub fn lookup(&self, domain: Domain, name: &str) -> Option<Link> {
        let key = domain.key(name);
        if key.is_empty() {
            return None;
        }
        let index = &self.indexes[domain.index()];
        if let Some(l) = index.exact.get(&key).and_then(|e| best(e, 1.0)) {
            return Some(l);
        }
        if matches!(domain, Domain::Disease | Domain::Cell) {
            let bag = bag_key(&key);
            let hit = index.exact.get(&bag).or_else(|| index.bag.get(&bag));
            if let Some(l) = hit.and_then(|e| best(e, BAG_FACTOR)) {
                return Some(l);
            }
            let compact = key.replace(' ', "");
            // Very short compact keys ("a b" → "ab") would match by accident.
            if compact.len() >= 6 {
                return index
                    .compact
                    .get(&compact)
                    .and_then(|e| best(e, BAG_FACTOR));
            }
        }
        None
    }
}

fn best(entries: &[Entry], factor: f32) -> Option<Link> {
    let first = entries.first()?;
    let ambiguous = entries.len() > 1 && entries[1].kind == first.kind;
    let mut score = first.kind.quality() * factor;
    if ambiguous {
        score -= AMBIGUITY_PENALTY;
    }
    Some(Link {
        concept: first.concept,
        score,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small lexicon in the bundle's format, for tests that should not depend on the bundle.
    pub(crate) const FIXTURE: &str = "#biotable-lexicon\t1\tfixture
C\tMONDO:0018874\tMONDO\tDISEASE\tacute myeloid leukemia\tDOID:9119;MESH:D015470\t
S\te\tAML
S\te\tacute myelogenous leukemia
S\tc\tacute non-lymphocytic leukaemia
C\tMONDO:0004992\tMONDO\tDISEASE\tcancer\tMESH:D009369\t
S\te\tmalignant neoplasm
C\tMONDO:0007254\tMONDO\tDISEASE\tbreast cancer\tMESH:D001943\t
C\tMONDO:0008380\tMONDO\tDISEASE\tretinoblastoma\tMESH:D012175\t
C\tMONDO:0008170\tMONDO\tDISEASE\tovarian cancer\tMESH:D010051\t
C\tMONDO:1010100\tMONDO\tDISEASE\tmyxedema coma\t\t
C\tMONDO:0005147\tMONDO\tDISEASE\ttype 1 diabetes mellitus\tMESH:D003922\t
S\te\tinsulin dependent diabetes
C\tMONDO:0000002\tMONDO\tDISEASE\tmyxedematous coma\tMESH:D009230\t
S\te\tmyxedema coma
C\tMONDO:0005148\tMONDO\tDISEASE\ttype 2 diabetes mellitus\tMESH:D003924\t
S\te\tnon-insulin dependent diabetes mellitus
C\tDOID:0000001\tDOID\tDISEASE\tfixture only disease\tMESH:D000001\t
C\tCL:0000623\tCL\tCELL_TYPE\tnatural killer cell\t\t
S\te\tNK cell
C\tCL:0000084\tCL\tCELL_TYPE\tT cell\t\t
S\te\tT lymphocyte
C\tCL:0000576\tCL\tCELL_TYPE\tmonocyte\t\t
C\tCIK:0001855485\tSEC\tCOMPANY\tCalidi Biotherapeutics, Inc.\t\texchange=NYSE|OTC;ticker=CLDI|CLDWW
C\tCIK:0000078003\tSEC\tCOMPANY\tPFIZER INC\t\texchange=NYSE;ticker=PFE
C\tROR-NAME:SE:lund-university\tROR\tORGANIZATION\tLund University\t\tcountry=SE;types=Education
C\tROR-NAME:US:nasdaq\tROR\tCOMPANY\tNasdaq (United States)\t\tcountry=US;types=Company
C\tROR-NAME:US:national-cancer-institute\tROR\tORGANIZATION\tNational Cancer Institute\t\tcountry=US;types=Government
C\tROR-NAME:XX:national-cancer-institute\tROR\tORGANIZATION\tNational Cancer Institute\t\tcountry=XX;types=Government
";

    pub(crate) fn fixture() -> Lexicon {
        Lexicon::from_reader(FIXTURE.as_bytes()).unwrap()
    }

    fn id(lex: &Lexicon, l: Option<Link>) -> Option<(&str, f32)> {
        l.map(|l| (lex.concept(l.concept).id.as_str(), l.score))
    }

    #[test]
    fn lookups_handle_variants_and_rank_by_name_kind() {
        let lex = fixture();
        let d = Domain::Disease;
        assert_eq!(
            id(&lex, lex.lookup(d, "Acute Myeloid Leukaemias")),
            Some(("MONDO:0018874", 1.0))
        );
        assert_eq!(
            id(&lex, lex.lookup(d, "AML")),
            Some(("MONDO:0018874", 0.95))
        );
        assert_eq!(
            id(&lex, lex.lookup(d, "leukemia, acute myeloid")),
            Some(("MONDO:0018874", 0.9))
        );
        assert_eq!(
            id(&lex, lex.lookup(d, "acute non-lymphocytic leukemia")),
            Some(("MONDO:0018874", 0.9))
        );
        assert_eq!(
            id(&lex, lex.lookup(d, "cancer of the breast")),
            Some(("MONDO:0007254", 0.9))
        );
        assert_eq!(lex.lookup(d, "natural killer cells"), None, "other domain");
        assert_eq!(
            id(&lex, lex.lookup(d, "breastcancer")),
            Some(("MONDO:0007254", 0.9)),
            "spaces and hyphens do not matter"
        );
        let c = Domain::Cell;
        assert_eq!(
            id(&lex, lex.lookup(c, "NK cells")),
            Some(("CL:0000623", 0.95))
        );
        assert_eq!(
            id(&lex, lex.lookup(c, "T-lymphocytes")),
            Some(("CL:0000084", 0.95))
        );
        assert_eq!(
            id(
                &lex,
                lex.lookup(Domain::Company, "Calidi Biotherapeutics Inc.")
            ),
            Some(("CIK:0001855485", 1.0))
        );
        assert_eq!(
            id(&lex, lex.lookup(Domain::Company, "Pfizer")),
            Some(("CIK:0000078003", 1.0))
        );
        assert_eq!(
            id(&lex, lex.lookup(Domain::Org, "Lund University")),
            Some(("ROR-NAME:SE:lund-university", 1.0))
        );
        let (nci, score) = id(&lex, lex.lookup(Domain::Org, "National Cancer Institute")).unwrap();
        assert_eq!(
            nci, "ROR-NAME:US:national-cancer-institute",
            "US namesake first"
        );
        assert!(score < 0.9, "two countries share the name: {score}");
        assert_eq!(
            lex.concept(lex.ticker("CLDI").unwrap()).name,
            "Calidi Biotherapeutics, Inc."
        );
        assert_eq!(lex.ticker("ZZZZ"), None);
        let sub = lex.lookup_subset(d, "myelogenous leukaemia").unwrap();
        assert_eq!(lex.concept(sub.concept).id, "MONDO:0018874");
        assert!(sub.score < 0.8, "{}", sub.score);
        assert_eq!(
            lex.lookup_subset(d, "leukemia"),
            None,
            "one word is too little"
        );
        assert_eq!(lex.lookup_subset(d, "chronic myelogenous leukemia"), None);
        assert_eq!(lex.with_xref("MESH:D015470").count(), 1);
    }

    #[test]
    fn malformed_lexicon_lines_are_errors() {
        assert!(Lexicon::from_reader("C\tX:1\tNOPE\tDISEASE\tx\t\t\n".as_bytes()).is_err());
        assert!(Lexicon::from_reader("Q\tx\n".as_bytes()).is_err());
    }

    #[test]
    fn bundled_lexicon_loads_and_links_the_issue_examples() {
        let lex = Lexicon::bundled();
        assert!(lex.len() > 100_000, "{} concepts", lex.len());
        let aml = lex
            .lookup(Domain::Disease, "acute myeloid leukaemia")
            .unwrap();
        assert_eq!(lex.concept(aml.concept).id, "MONDO:0018874");
        assert!(lex
            .concept(aml.concept)
            .xrefs
            .contains(&"MESH:D015470".to_string()));
        let nk = lex.lookup(Domain::Cell, "NK cells").unwrap();
        assert_eq!(lex.concept(nk.concept).id, "CL:0000623");
        let calidi = lex.ticker("CLDI").unwrap();
        assert_eq!(lex.concept(calidi).id, "CIK:0001855485");
        let lund = lex.lookup(Domain::Org, "Lund University").unwrap();
        assert_eq!(lex.concept(lund.concept).attr("country"), Some("SE"));
    }
}
