//! Case variants of a text with the same byte length (so gold spans stay valid): Title Case as
//! in headlines, ALL CAPS and lower case. Training adds such variants of its sentences (labels
//! unchanged) and `biotable eval --case` rewrites a test set the same way.
//!
//! A character whose other case has another UTF-8 length (or is several characters, like
//! "ß" → "SS") is left as it is.

use std::fmt;
use std::str::FromStr;

/// How to rewrite the case of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Case {
    /// Headline style: every word capitalized except short function words after the first.
    Title,
    Upper,
    Lower,
}

impl Case {
    pub const ALL: [Case; 3] = [Case::Title, Case::Upper, Case::Lower];

    pub fn as_str(&self) -> &'static str {
        match self {
            Case::Title => "title",
            Case::Upper => "upper",
            Case::Lower => "lower",
        }
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Case {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Case::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown case {s:?}; use title, upper or lower"))
    }
}

/// Words a headline keeps in lower case (unless first).
const MINOR_WORDS: &[&str] = &[
    "a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "of", "on", "or",
    "the", "to", "via", "vs", "with",
];

fn same_width(c: char, mut mapped: impl Iterator<Item = char>) -> char {
    match (mapped.next(), mapped.next()) {
        (Some(m), None) if m.len_utf8() == c.len_utf8() => m,
        _ => c,
    }
}

fn upper(c: char) -> char {
    same_width(c, c.to_uppercase())
}

fn lower(c: char) -> char {
    same_width(c, c.to_lowercase())
}

/// `text` rewritten in `case`; always the same byte length, character boundaries unchanged.
pub fn recase(text: &str, case: Case) -> String {
    let out: String = match case {
        Case::Upper => text.chars().map(upper).collect(),
        Case::Lower => text.chars().map(lower).collect(),
        Case::Title => {
            let mut out = String::with_capacity(text.len());
            let mut first_word = true;
            let mut rest = text;
            while let Some(c) = rest.chars().next() {
                if !c.is_alphanumeric() {
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                    continue;
                }
                let end = rest
                    .find(|c: char| !c.is_alphanumeric())
                    .unwrap_or(rest.len());
                let word = &rest[..end];
                let minor = !first_word && MINOR_WORDS.contains(&word.to_lowercase().as_str());
                for (i, c) in word.chars().enumerate() {
                    out.push(if i == 0 && !minor { upper(c) } else { lower(c) });
                }
                first_word = false;
                rest = &rest[end..];
            }
            out
        }
    };
    debug_assert_eq!(out.len(), text.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headline_title_case() {
        assert_eq!(
            recase(
                "Patients with chronic lymphocytic leukemia and IL-2 in the U.S.",
                Case::Title
            ),
            "Patients with Chronic Lymphocytic Leukemia and Il-2 in the U.S."
        );
        assert_eq!(recase("the FDA", Case::Title), "The Fda");
    }

    #[test]
    fn lengths_never_change() {
        for text in ["Straße İstanbul ǅ ﬁ 日本 émigré", "ß", "NK cells"] {
            for case in Case::ALL {
                let out = recase(text, case);
                assert_eq!(out.len(), text.len(), "{case} of {text:?}");
                assert!(text.char_indices().all(|(i, _)| out.is_char_boundary(i)));
            }
        }
        assert_eq!(recase("NK cells", Case::Upper), "NK CELLS");
        assert_eq!(recase("NK cells", Case::Lower), "nk cells");
        assert_eq!("title".parse::<Case>(), Ok(Case::Title));
    }
}
