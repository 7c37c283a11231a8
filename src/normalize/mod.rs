//! Normalization: from a mention to the entity it names.
//!
//! Per document, abbreviation definitions are found first ([`abbrev`]). Each mention is then
//! linked to the bundled [`lexicon`]: diseases to MONDO (with DOID / MeSH / OMIM
//! cross-references), cell types to the Cell Ontology, companies to the SEC list (a ticker
//! after the name is strong evidence), organizations to ROR names ([`org`] also decides
//! COMPANY versus ORGANIZATION). A short form defined in the document ("AML") is resolved to
//! its long form's entity. A mention that matches nothing keeps its label and is keyed by its
//! normalized text; every link carries a score, and low scores are never hidden.

pub mod abbrev;
pub mod keys;
pub mod lexicon;
pub mod org;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use abbrev::AbbreviationMap;
use keys::term_key;
use lexicon::{Domain, Lexicon, Link};

use crate::types::{EntityLabel, Mention};

/// The normalized display name of a surface form: lowercase, dashes and quotes unified,
/// whitespace collapsed, surrounding punctuation trimmed.
pub fn normalize_name(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        let c = match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            '\u{2018}' | '\u{2019}' | '`' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            c if c.is_whitespace() => ' ',
            c => c,
        };
        if c == ' ' {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.extend(c.to_lowercase());
    }
    out.trim_matches(|c: char| matches!(c, '.' | ',' | ';' | ':' | '"' | '\''))
        .to_string()
}

/// What identifies an entity: a lexicon concept, or (unlinked) its label and matching key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EntityKey {
    Concept(u32),
    Name { label: EntityLabel, key: String },
}

impl EntityKey {
    /// The key of an unlinked name: the lexicon's matching key for diseases and cell types
    /// (so "leukaemias" and "leukemia" meet), the normalized name otherwise.
    pub fn of_name(label: EntityLabel, name: &str) -> Self {
        let key = match label {
            EntityLabel::Disease | EntityLabel::CellType => term_key(name),
            _ => normalize_name(name),
        };
        EntityKey::Name { label, key }
    }
}

/// A mention after normalization.
#[derive(Debug, Clone, PartialEq)]
pub struct Linked {
    /// The final label (the model's, unless company/organization evidence says otherwise).
    pub label: EntityLabel,
    pub key: EntityKey,
    /// The display name of an unlinked entity (a linked one is named by its concept).
    pub name: String,
    pub link: Option<Link>,
    /// The long form when the mention is a short form defined in the document.
    pub expanded_from: Option<String>,
}

/// Modifiers that do not change which cell type is meant ("human peripheral blood
/// monocytes" is a monocyte); dropped only when the whole name matches nothing.
const CELL_MODIFIERS: &[&str] = &[
    "human",
    "mouse",
    "murine",
    "rat",
    "primary",
    "normal",
    "activated",
    "resting",
    "stimulated",
    "unstimulated",
    "peripheral",
    "blood",
    "circulating",
    "cultured",
    "isolated",
    "purified",
    "adult",
    "freshly",
    "healthy",
    "infected",
    "transformed",
    "derived",
];

/// A link found only after dropping modifiers is less certain.
const MODIFIER_FACTOR: f32 = 0.8;
/// A disease linked through one conjunct of a coordination ("breast and ovarian cancer").
const COORDINATION_FACTOR: f32 = 0.8;
/// A disease found only after dropping leading words ("unilateral retinoblastoma").
const BACKOFF_FACTOR: f32 = 0.7;
/// Heads too generic to stand for the whole name (term keys).
const GENERIC_HEADS: &[&str] = &[
    "disease",
    "syndrome",
    "disorder",
    "deficiency",
    "defect",
    "abnormality",
    "anomaly",
    "condition",
    "dysfunction",
    "lesion",
    "illness",
    "malformation",
    "tumor",
    "neoplasm",
    "failure",
    "injury",
    "infection",
    "toxicity",
    "pain",
    "damage",
];
/// A link through the document's abbreviation definition.
const ABBREVIATION_FACTOR: f32 = 0.95;

/// Links mentions to the lexicon.
pub struct Normalizer<'a> {
    lex: &'a Lexicon,
}

impl<'a> Normalizer<'a> {
    pub fn new(lex: &'a Lexicon) -> Self {
        Normalizer { lex }
    }

    pub fn lexicon(&self) -> &'a Lexicon {
        self.lex
    }

    /// Normalize the mentions of one document (`mentions` in document order; spans in
    /// characters of `text`).
    pub fn document<'m>(
        &self,
        text: &str,
        mentions: impl IntoIterator<Item = &'m Mention>,
    ) -> Vec<Linked> {
        let abbrevs = AbbreviationMap::of_text(text);
        let mentions: Vec<&Mention> = mentions.into_iter().collect();
        // A short form takes the label its long form was given in the document: "myocardial
        // infarction (MI)" tagged DISEASE makes a later "MI" a disease whatever the model said.
        let mut long_labels: HashMap<String, EntityLabel> = HashMap::new();
        if !abbrevs.is_empty() {
            for m in &mentions {
                long_labels
                    .entry(normalize_name(&m.text))
                    .or_insert(m.label);
            }
        }
        let mut chars = CharCursor::new(text);
        mentions
            .into_iter()
            .map(|m| {
                let after = chars.after(m.span.end);
                let label = abbrevs
                    .get(m.text.trim())
                    .and_then(|a| long_labels.get(&normalize_name(&a.long)))
                    .copied()
                    .unwrap_or(m.label);
                self.mention(label, &m.text, after, &abbrevs)
            })
            .collect()
    }

    /// A mention left unlinked (`extract --no-link`): the model's label, keyed by its name.
    pub fn unlinked(m: &Mention) -> Linked {
        let name = normalize_name(&m.text);
        Linked {
            label: m.label,
            key: EntityKey::of_name(m.label, &name),
            name,
            link: None,
            expanded_from: None,
        }
    }

    /// Normalize one mention: `after` is the text that follows it, `abbrevs` the document's
    /// definitions.
    pub fn mention(
        &self,
        label: EntityLabel,
        text: &str,
        after: &str,
        abbrevs: &AbbreviationMap,
    ) -> Linked {
        match label {
            EntityLabel::Company | EntityLabel::Organization => {
                let d = org::decide(self.lex, label, text, after);
                self.finish(d.label, text, d.link, None)
            }
            EntityLabel::Disease | EntityLabel::CellType => {
                let domain = if label == EntityLabel::Disease {
                    Domain::Disease
                } else {
                    Domain::Cell
                };
                let (link, long) = self.link_term(domain, text, abbrevs);
                self.finish(label, text, link, long)
            }
            _ => {
                let long = abbrevs.get(text.trim()).map(|a| a.long.clone());
                self.finish(label, text, None, long)
            }
        }
    }

    fn finish(
        &self,
        label: EntityLabel,
        text: &str,
        link: Option<Link>,
        long: Option<String>,
    ) -> Linked {
        let name = normalize_name(long.as_deref().unwrap_or(text));
        let key = match link {
            Some(l) => EntityKey::Concept(l.concept),
            None => EntityKey::of_name(label, &name),
        };
        let label = link.map_or(label, |l| self.lex.concept(l.concept).label);
        Linked {
            label,
            key,
            name,
            link,
            expanded_from: long,
        }
    }

    /// Link a disease or cell-type name: as written, without parentheses, through the
    /// document's abbreviations, then (cell types) without modifiers.
    fn link_term(
        &self,
        domain: Domain,
        text: &str,
        abbrevs: &AbbreviationMap,
    ) -> (Option<Link>, Option<String>) {
        let trimmed = text.trim();
        let through_abbreviation = |l: Link| Link {
            concept: l.concept,
            score: l.score * ABBREVIATION_FACTOR,
        };
        // A defined short form is its long form ("AML" → "acute myeloid leukemia").
        if let Some(a) = abbrevs.get(trimmed) {
            let link = self
                .lookup_variants(domain, &a.long)
                .or_else(|| self.last_resorts(domain, &a.long))
                .map(through_abbreviation);
            return (link, Some(a.long.clone()));
        }
        let link = self
            .lookup_variants(domain, trimmed)
            // "NK cells" → "natural killer cells".
            .or_else(|| {
                abbrevs
                    .expand(trimmed)
                    .and_then(|expanded| self.lookup_variants(domain, &expanded))
                    .map(through_abbreviation)
            })
            .or_else(|| self.last_resorts(domain, trimmed));
        (link, None)
    }

    /// When nothing matches as written: a name holding all the words ("congenital chloride
    /// diarrhea" → "congenital secretory chloride diarrhea 1"), then for diseases the name
    /// without its leading words ("unilateral retinoblastoma" → "retinoblastoma"); both
    /// score lower.
    fn last_resorts(&self, domain: Domain, text: &str) -> Option<Link> {
        // A coordination names several entities ("breast and ovarian cancer"): link the
        // first one written out in full ("breast cancer"), else the last ("ovarian cancer").
        // Backing off may drop shared leading words, never the conjunct's own modifier.
        let coordinated = || {
            let (parts, head_words) = conjuncts(&strip_parentheses(text))?;
            parts
                .iter()
                .find_map(|p| self.lookup_variants(domain, p))
                .or_else(|| {
                    (domain == Domain::Disease)
                        .then(|| {
                            parts
                                .iter()
                                .find_map(|p| self.head_backoff(domain, p, head_words + 1))
                        })
                        .flatten()
                })
                .map(|l| Link {
                    concept: l.concept,
                    score: l.score * COORDINATION_FACTOR,
                })
        };
        coordinated()
            .or_else(|| self.lex.lookup_subset(domain, &strip_parentheses(text)))
            .or_else(|| {
                (domain == Domain::Disease)
                    .then(|| self.head_backoff(domain, text, 1))
                    .flatten()
            })
    }

    /// The name without its leading words, keeping at least `min_words`.
    fn head_backoff(&self, domain: Domain, text: &str, min_words: usize) -> Option<Link> {
        let clean = strip_parentheses(text);
        let words: Vec<&str> = clean.split_whitespace().collect();
        (1..(words.len() + 1).saturating_sub(min_words)).find_map(|k| {
            let rest = words[k..].join(" ");
            if words.len() - k == 1 && GENERIC_HEADS.contains(&term_key(&rest).as_str()) {
                return None;
            }
            self.lex.lookup(domain, &rest).map(|l| Link {
                concept: l.concept,
                score: l.score * BACKOFF_FACTOR,
            })
        })
    }

    fn lookup_variants(&self, domain: Domain, text: &str) -> Option<Link> {
        if let Some(l) = self.lex.lookup(domain, text) {
            return Some(l);
        }
        // "natural killer (NK) cells" → "natural killer cells".
        let without = strip_parentheses(text);
        if without != text {
            if let Some(l) = self.lex.lookup(domain, &without) {
                return Some(l);
            }
        }
        if domain == Domain::Cell {
            let words: Vec<&str> = without
                .split_whitespace()
                .filter(|w| !CELL_MODIFIERS.contains(&w.to_lowercase().as_str()))
                .collect();
            // Dropping modifiers must leave more than the bare word "cell(s)".
            let generic = words.len() == 1 && term_key(words[0]) == "cell";
            if !words.is_empty() && !generic && words.len() < without.split_whitespace().count() {
                return self.lex.lookup(domain, &words.join(" ")).map(|l| Link {
                    concept: l.concept,
                    score: l.score * MODIFIER_FACTOR,
                });
            }
        }
        None
    }
}

/// The first and last entity of a coordination whose conjuncts share a head noun, and the
/// number of words of that head:
/// "breast and ovarian cancer" → ["breast cancer", "ovarian cancer"]; "prostatic, pancreas,
/// skin, and lung cancer" → ["prostatic cancer", "lung cancer"]. `None` without a coordinating
/// word, or when the shared head cannot be told (a conjunct of several words before the last).
fn conjuncts(text: &str) -> Option<([String; 2], usize)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let conj = words
        .iter()
        .rposition(|w| matches!(w.to_lowercase().as_str(), "and" | "or" | "and/or"))?;
    // The last conjunct is "modifier head…": at least two words after the conjunction.
    if conj == 0 || words.len() - conj < 3 {
        return None;
    }
    let last = words[conj + 1..].join(" ");
    let head = words[conj + 2..].join(" ");
    // Leading words common to all conjuncts stay ("sporadic breast and ovarian cancers").
    // In a list ("prostatic, pancreas, skin, and lung") the first item ends at the first comma.
    let first_word = words[..conj]
        .iter()
        .position(|w| w.ends_with(','))
        .unwrap_or(conj - 1);
    let lead = words[..=first_word].join(" ");
    let first = format!("{} {head}", lead.trim_end_matches(','));
    Some(([first, last], words.len() - conj - 2))
}

fn strip_parentheses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Byte positions of character offsets, for mentions visited in increasing order.
struct CharCursor<'t> {
    text: &'t str,
    char_pos: usize,
    byte_pos: usize,
}

impl<'t> CharCursor<'t> {
    fn new(text: &'t str) -> Self {
        CharCursor {
            text,
            char_pos: 0,
            byte_pos: 0,
        }
    }

    /// Up to 80 bytes of text after character offset `char_offset`.
    fn after(&mut self, char_offset: usize) -> &'t str {
        if char_offset < self.char_pos {
            self.char_pos = 0;
            self.byte_pos = 0;
        }
        let skip = char_offset - self.char_pos;
        let rest = &self.text[self.byte_pos..];
        let b = rest.char_indices().nth(skip).map_or(rest.len(), |(b, _)| b);
        self.byte_pos += b;
        self.char_pos = char_offset;
        let tail = &self.text[self.byte_pos..];
        let mut end = tail.len().min(80);
        while !tail.is_char_boundary(end) {
            end -= 1;
        }
        &tail[..end]
    }
}

#[cfg(test)]
mod tests {
    use super::lexicon::tests::fixture;
    use super::*;
    use crate::types::Span;

    #[test]
    fn display_names() {
        assert_eq!(normalize_name("CAR\u{2011}T cells"), "car-t cells");
        assert_eq!(
            normalize_name("Calidi  Biotherapeutics\nInc."),
            "calidi biotherapeutics inc"
        );
    }

    #[test]
    fn unlinked_keys_merge_variants_but_not_labels() {
        let d = EntityLabel::Disease;
        assert_eq!(
            EntityKey::of_name(d, "frobnitz leukaemias"),
            EntityKey::of_name(d, "Frobnitz leukemia")
        );
        assert_ne!(
            EntityKey::of_name(EntityLabel::Company, "Apple"),
            EntityKey::of_name(EntityLabel::Organization, "Apple")
        );
    }

    fn mention(text: &str, doc: &str, label: EntityLabel) -> Mention {
        let byte = doc.find(text).unwrap();
        let start = doc[..byte].chars().count();
        Mention {
            span: Span::new(start, start + text.chars().count()),
            text: text.to_string(),
            label,
            score: 0.9,
        }
    }

    #[test]
    fn a_document_links_abbreviations_cells_and_companies() {
        let lex = fixture();
        let n = Normalizer::new(&lex);
        let doc = "Calidi Biotherapeutics Inc. (NYSE American: CLDI) treats acute myeloid \
                   leukaemia (AML) with natural killer (NK) cells. AML relapsed; NK cells and \
                   human peripheral blood monocytes responded, unlike XYZ (no definition) and \
                   frobnitz syndrome.";
        let ms = [
            mention(
                "Calidi Biotherapeutics Inc.",
                doc,
                EntityLabel::Organization,
            ),
            mention("acute myeloid leukaemia", doc, EntityLabel::Disease),
            mention("natural killer (NK) cells", doc, EntityLabel::CellType),
            mention("AML relapsed", doc, EntityLabel::Disease),
            mention("NK cells and", doc, EntityLabel::CellType),
            mention(
                "human peripheral blood monocytes",
                doc,
                EntityLabel::CellType,
            ),
            mention("frobnitz syndrome", doc, EntityLabel::Disease),
        ];
        // Mentions are spans of the doc; trim the helper's context words.
        let mut ms = ms.to_vec();
        ms[3].text = "AML".into();
        ms[3].span.end = ms[3].span.start + 3;
        ms[4].text = "NK cells".into();
        ms[4].span.end = ms[4].span.start + 8;
        let out = n.document(doc, &ms);
        let id = |l: &Linked| l.link.map(|k| lex.concept(k.concept).id.clone());
        assert_eq!(out[0].label, EntityLabel::Company);
        assert_eq!(id(&out[0]).as_deref(), Some("CIK:0001855485"));
        assert_eq!(id(&out[1]).as_deref(), Some("MONDO:0018874"));
        assert_eq!(id(&out[2]).as_deref(), Some("CL:0000623"));
        // "AML" after its definition: the long form's entity.
        assert_eq!(out[3].key, out[1].key);
        assert_eq!(
            out[3].expanded_from.as_deref(),
            Some("acute myeloid leukaemia")
        );
        assert_eq!(out[4].key, out[2].key);
        let monocyte = out[5].link.unwrap();
        assert_eq!(lex.concept(monocyte.concept).id, "CL:0000576");
        assert!(monocyte.score < 0.9, "modifiers dropped: lower confidence");
        // No match: label kept, no concept, keyed by its name.
        assert_eq!(out[6].link, None);
        assert_eq!(out[6].label, EntityLabel::Disease);
        assert_eq!(out[6].name, "frobnitz syndrome");
    }

    #[test]
    fn short_forms_take_their_long_forms_label() {
        let lex = fixture();
        let n = Normalizer::new(&lex);
        let doc = "After acute myeloid leukemia (AML) was diagnosed, AML relapsed.";
        let mut aml = mention("AML relapsed", doc, EntityLabel::Company);
        aml.text = "AML".into();
        aml.span.end = aml.span.start + 3;
        let long = mention("acute myeloid leukemia", doc, EntityLabel::Disease);
        let out = n.document(doc, [&long, &aml]);
        assert_eq!(out[1].label, EntityLabel::Disease);
        assert_eq!(out[1].key, out[0].key);
    }

    #[test]
    fn leading_words_are_dropped_as_a_last_resort() {
        let lex = fixture();
        let n = Normalizer::new(&lex);
        let none = AbbreviationMap::default();
        let l = n.mention(
            EntityLabel::Disease,
            "bilateral familial retinoblastoma",
            "",
            &none,
        );
        let link = l.link.expect("found by dropping leading words");
        assert_eq!(lex.concept(link.concept).id, "MONDO:0008380");
        assert!(link.score <= 0.7 + 1e-6, "low confidence: {}", link.score);
        // A generic head alone is not a link.
        let l = n.mention(EntityLabel::Disease, "frobnitz disease", "", &none);
        assert_eq!(l.link, None);
    }

    #[test]
    fn coordinations_link_one_conjunct() {
        let parts = |text: &str| conjuncts(text).map(|(p, _)| p);
        assert_eq!(
            parts("breast and ovarian cancer"),
            Some(["breast cancer".to_string(), "ovarian cancer".to_string()])
        );
        assert_eq!(
            parts("prostatic, pancreas, skin, and lung cancer"),
            Some(["prostatic cancer".to_string(), "lung cancer".to_string()])
        );
        assert_eq!(
            conjuncts("sporadic breast or ovarian cell tumours"),
            Some((
                [
                    "sporadic breast cell tumours".to_string(),
                    "ovarian cell tumours".to_string()
                ],
                2
            ))
        );
        assert_eq!(conjuncts("deficiency of C6 and C7"), None, "no shared head");
        assert_eq!(conjuncts("acute myeloid leukemia"), None);

        let lex = fixture();
        let n = Normalizer::new(&lex);
        let none = AbbreviationMap::default();
        let id = |text: &str| {
            let l = n.mention(EntityLabel::Disease, text, "", &none);
            l.link.map(|l| (lex.concept(l.concept).id.clone(), l.score))
        };
        let (first, score) = id("breast and ovarian cancers").expect("linked");
        assert_eq!(first, "MONDO:0007254");
        assert!(score < 1.0, "less certain than an exact match: {score}");
        // A conjunct found as written beats one found by dropping words...
        assert_eq!(
            id("familial breast or ovarian cancer").map(|l| l.0),
            Some("MONDO:0008170".to_string())
        );
        // ...and shared leading words are dropped like any others.
        assert_eq!(
            id("familial breast or frobnitz cancer").map(|l| l.0),
            Some("MONDO:0007254".to_string())
        );
        // Only the last conjunct is known; "frobnitz cancer" does not back off to "cancer".
        assert_eq!(
            id("frobnitz and ovarian cancer").map(|l| l.0),
            Some("MONDO:0008170".to_string())
        );
        assert_eq!(
            id("frobnitz and zork cancer").map(|l| l.0),
            Some("MONDO:0004992".to_string()),
            "the whole mention still backs off to its head"
        );
    }

    #[test]
    fn subset_matches_never_add_a_negation_or_an_animal() {
        let lex = fixture();
        let n = Normalizer::new(&lex);
        let none = AbbreviationMap::default();
        let id = |text: &str| {
            let l = n.mention(EntityLabel::Disease, text, "", &none);
            l.link.map(|l| lex.concept(l.concept).id.clone())
        };
        // Its words are all in "non-insulin dependent diabetes mellitus" (type 2), but it is
        // type 1; nothing in the fixture names it, so it stays unlinked rather than wrong.
        assert_eq!(id("insulin-dependent diabetes mellitus"), None);
        assert_eq!(
            id("non insulin-dependent diabetes mellitus").as_deref(),
            Some("MONDO:0005148")
        );
        // A human concept wins over MONDO's non-human branch, whatever the kind of name.
        assert_eq!(id("myxedema coma").as_deref(), Some("MONDO:0000002"));
        assert!((0..lex.len() as u32)
            .map(|i| lex.concept(i))
            .any(|c| c.id == "MONDO:1010100" && c.is_non_human()));
    }

    #[test]
    fn unknown_short_forms_stay_as_they_are() {
        let lex = fixture();
        let n = Normalizer::new(&lex);
        let l = n.mention(
            EntityLabel::Disease,
            "XYZD",
            "",
            &AbbreviationMap::of_text("nothing defined here"),
        );
        assert_eq!(l.link, None);
        assert_eq!(l.name, "xyzd");
        assert_eq!(l.expanded_from, None);
    }

    #[test]
    fn char_cursor_handles_multibyte_text() {
        let text = "Ünï (NYSE: AB) — Bé (Nasdaq: CD)";
        let mut c = CharCursor::new(text);
        assert!(c.after(3).starts_with(" (NYSE: AB)"));
        assert!(c.after(19).starts_with(" (Nasdaq: CD)"));
        assert!(c.after(3).starts_with(" (NYSE"), "rewinds");
        assert_eq!(c.after(text.chars().count()), "");
    }
}
