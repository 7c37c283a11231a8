//! Lexicon features: for every word piece, which bundled-lexicon names it starts or continues.
//!
//! Categories: disease names and synonyms (MONDO, DO), cell types (CL), SEC companies, ROR
//! organizations, legal forms ("Inc.", "GmbH") and stock exchanges. Matching is
//! case-insensitive (ASCII), on whole words, and overlapping: "breast cancer" marks "breast" as
//! the start of a disease name and "cancer" as its continuation *and* the start of another.
//! The tagger embeds each category's state (none / starts / continues) and concatenates the sum
//! to the encoder output, like the word-shape embedding; training drops the features at random
//! so the model learns context, not just the dictionary.
//!
//! One Aho–Corasick automaton (the `aho-corasick` crate) over all names, built once from the
//! lexicon compiled into the binary.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::normalize::keys::LEGAL_SUFFIXES;
use crate::normalize::lexicon::{Domain, Lexicon};
use crate::normalize::org::EXCHANGES;

/// Number of feature categories.
pub const LEX_CATEGORIES: usize = 6;
/// States of one category at one piece.
pub const LEX_STATES: usize = 3;
pub const LEX_NONE: u8 = 0;
pub const LEX_START: u8 = 1;
pub const LEX_INSIDE: u8 = 2;

/// The categories, in feature order.
pub const CATEGORY_NAMES: [&str; LEX_CATEGORIES] = [
    "disease",
    "cell_type",
    "sec_company",
    "ror_organization",
    "legal_form",
    "exchange",
];

/// The state of each category at one piece.
pub type LexFeatures = [u8; LEX_CATEGORIES];

/// Shortest name used as a pattern, in bytes.
const MIN_NAME: usize = 3;

pub struct LexiconMatcher {
    automaton: AhoCorasick,
    /// Category of each pattern.
    categories: Vec<u8>,
}

impl LexiconMatcher {
    /// The matcher over the bundled lexicon, built on first use.
    pub fn bundled() -> &'static LexiconMatcher {
        static MATCHER: OnceLock<LexiconMatcher> = OnceLock::new();
        MATCHER.get_or_init(|| LexiconMatcher::new(Lexicon::bundled()))
    }

    pub fn new(lexicon: &Lexicon) -> Self {
        let mut patterns: Vec<(String, u8)> = lexicon
            .surface_names()
            .iter()
            .map(|(domain, name)| {
                let cat = match domain {
                    Domain::Disease => 0,
                    Domain::Cell => 1,
                    Domain::Company => 2,
                    Domain::Org => 3,
                };
                (name.to_ascii_lowercase(), cat)
            })
            .chain(LEGAL_SUFFIXES.iter().map(|s| (s.to_string(), 4)))
            .chain(EXCHANGES.iter().map(|s| (s.to_string(), 5)))
            // Two-letter legal forms ("AG", "SA") are the only short patterns.
            .filter(|(p, cat)| p.len() >= MIN_NAME || *cat == 4)
            .collect();
        patterns.sort();
        patterns.dedup();
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(patterns.iter().map(|(p, _)| p.as_bytes()))
            .expect("lexicon patterns build an automaton");
        LexiconMatcher {
            automaton,
            categories: patterns.into_iter().map(|(_, c)| c).collect(),
        }
    }

    /// Whole-word matches in `text` (case-insensitive): `(byte start, byte end, category)`.
    pub fn find(&self, text: &str) -> Vec<(usize, usize, u8)> {
        let folded = text.to_ascii_lowercase();
        let bytes = folded.as_bytes();
        // Non-ASCII bytes count as word characters: no match starts or ends inside a word.
        let word = |b: u8| b.is_ascii_alphanumeric() || b >= 0x80;
        self.automaton
            .find_overlapping_iter(bytes)
            .filter(|m| {
                (m.start() == 0 || !word(bytes[m.start() - 1]))
                    && (m.end() == bytes.len() || !word(bytes[m.end()]))
                    && word(bytes[m.start()])
            })
            .map(|m| (m.start(), m.end(), self.categories[m.pattern().as_usize()]))
            .collect()
    }

    /// Features of pieces given by their byte offsets in `text` (sorted by start).
    pub fn piece_features(&self, text: &str, offsets: &[(usize, usize)]) -> Vec<LexFeatures> {
        let mut out = vec![[LEX_NONE; LEX_CATEGORIES]; offsets.len()];
        for (a, b, cat) in self.find(text) {
            let first = offsets.partition_point(|&(_, e)| e <= a);
            for (p, &(s, e)) in offsets.iter().enumerate().skip(first) {
                if s >= b {
                    break;
                }
                if e <= a {
                    continue;
                }
                let state = if s == a { LEX_START } else { LEX_INSIDE };
                let slot = &mut out[p][cat as usize];
                // A piece that starts one name and continues another is marked as a start.
                if *slot != LEX_START {
                    *slot = state;
                }
            }
        }
        out
    }
}

/// Embedding ids `[pieces × categories]` of features: category × 3 + state.
pub fn feature_ids(features: &LexFeatures) -> impl Iterator<Item = i64> + '_ {
    features
        .iter()
        .enumerate()
        .map(|(k, &s)| (k * LEX_STATES) as i64 + s as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_whole_word_names_in_any_case() {
        let m = LexiconMatcher::bundled();
        let text = "CHRONIC LYMPHOCYTIC LEUKEMIA seen by Pfizer Inc. at Lund University (Nasdaq)";
        let found = m.find(text);
        let has = |s: &str, cat: u8| {
            let a = text.find(s).unwrap();
            found.contains(&(a, a + s.len(), cat))
        };
        assert!(has("CHRONIC LYMPHOCYTIC LEUKEMIA", 0), "{found:?}");
        assert!(has("Lund University", 3), "{found:?}");
        assert!(has("Inc", 4), "{found:?}");
        assert!(has("Nasdaq", 5), "{found:?}");
        // No match inside a word: "seen" holds no name, "Inc" in "Incyte" is not a legal form.
        assert!(m.find("Incyte").iter().all(|&(_, _, c)| c != 4));
    }

    #[test]
    fn pieces_get_start_and_inside_states() {
        let m = LexiconMatcher::bundled();
        let text = "acute myeloid leukemia";
        let offsets = [(0, 5), (6, 13), (14, 18), (18, 22)];
        let f = m.piece_features(text, &offsets);
        assert_eq!(f[0][0], LEX_START);
        assert_eq!(f[1][0], LEX_START, "\"myeloid leukemia\" is a name too");
        assert_eq!(f[3][0], LEX_INSIDE);
        let ids: Vec<i64> = feature_ids(&f[0]).collect();
        assert_eq!(ids[0], 1);
        assert_eq!(ids[1], 3);
    }
}
