//! Sentence splitting tuned for biomedical prose and press releases.
//!
//! Rules, in order:
//! - a blank line always ends a sentence; a single newline ends one unless the next line starts
//!   with a lowercase letter (hard-wrapped text);
//! - `.`, `!`, `?` (with closing quotes/brackets after them) end a sentence when followed by
//!   whitespace and then something that can start a sentence (uppercase letter, digit, opening
//!   quote or bracket), except after abbreviations ("e.g.", "et al.", "Fig.", "Dr.", "vs."),
//!   single-letter initials ("J. Smith") and dotted acronyms ("U.S.");
//! - company suffixes ("Inc.", "Ltd.", "Corp.", "Co.") end a sentence only when a capitalised
//!   word follows, so "Calidi Biotherapeutics Inc. (NYSE American: CLDI)" stays whole.
//!
//! - a "sentence" longer than [`MAX_SENTENCE_BYTES`] (text without punctuation or line breaks)
//!   is cut at whitespace, so memory per sentence stays bounded.
//!
//! Offsets are byte offsets into the input; every sentence is trimmed of surrounding whitespace
//! and is never empty.

use crate::types::Span;

/// Words that end in a period without ending the sentence (compared lowercase, without the dot).
const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "al", "etc", "fig", "figs", "dr", "drs", "mr", "mrs", "ms", "prof", "vs", "cf",
    "approx", "ca", "resp", "no", "nos", "vol", "eq", "eqs", "ref", "refs", "tab", "suppl", "st",
    "jr", "sr", "sp", "spp", "var", "ed", "eds", "dept", "univ", "inst", "med", "natl", "int",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "min",
    "max", "mol", "wt", "conc", "incl", "p", "pp", "op", "cit", "viz", "mt", "ft",
];

/// Legal suffixes: abbreviations that may also end a sentence.
const COMPANY_SUFFIXES: &[&str] = &[
    "inc", "ltd", "corp", "co", "bros", "plc", "llc", "s.a", "n.v",
];

/// Split `text` into sentence spans (byte offsets, trimmed, non-empty).
pub fn split_sentences(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let bytes = text.as_bytes();
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        let boundary_end = match b {
            b'\n' => newline_boundary(text, i),
            b'.' | b'!' | b'?' => punct_boundary(text, i),
            _ => None,
        };
        if let Some(end) = boundary_end {
            push_trimmed(text, start, end, &mut out);
            start = end;
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    push_trimmed(text, start, text.len(), &mut out);
    out
}

/// Longest sentence, in bytes (about 1,500 words); longer runs are cut at whitespace.
pub const MAX_SENTENCE_BYTES: usize = 10_000;

fn push_trimmed(text: &str, start: usize, end: usize, out: &mut Vec<Span>) {
    let piece = &text[start..end];
    let lead = piece.len() - piece.trim_start().len();
    let trail = piece.len() - piece.trim_end().len();
    if lead + trail >= piece.len() {
        return;
    }
    let (mut start, end) = (start + lead, end - trail);
    while end - start > MAX_SENTENCE_BYTES {
        let mut limit = start + MAX_SENTENCE_BYTES;
        while !text.is_char_boundary(limit) {
            limit -= 1;
        }
        // Cut at the last whitespace before the limit (mid-word only if there is none). The
        // run starts with a non-space, so the part before the cut is never empty.
        let cut = text[start..limit]
            .rfind(char::is_whitespace)
            .map_or(limit, |i| start + i);
        out.push(Span::new(start, start + text[start..cut].trim_end().len()));
        start = end - text[cut..end].trim_start().len();
    }
    out.push(Span::new(start, end));
}

/// A newline at byte `i`: the sentence ends here unless the next line continues it.
fn newline_boundary(text: &str, i: usize) -> Option<usize> {
    let rest = &text[i + 1..];
    let next_line_start = rest.trim_start_matches([' ', '\t', '\r']);
    if next_line_start.starts_with('\n') {
        return Some(i + 1); // blank line
    }
    match next_line_start.chars().next() {
        Some(c) if c.is_lowercase() => None,
        _ => Some(i + 1),
    }
}

/// Sentence punctuation at byte `i` (ASCII, so `i + 1` is a char boundary).
fn punct_boundary(text: &str, i: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    // Run of terminal punctuation and closing quotes/brackets: "?!", ".)", '."'.
    let mut end = i + 1;
    while end < bytes.len() && matches!(bytes[end], b'.' | b'!' | b'?' | b')' | b']' | b'"' | b'\'')
    {
        end += 1;
    }
    // Also closing typographic quotes.
    let mut rest = &text[end..];
    while let Some(c) = rest
        .chars()
        .next()
        .filter(|c| matches!(c, '\u{201D}' | '\u{2019}'))
    {
        end += c.len_utf8();
        rest = &text[end..];
    }
    // Must be followed by whitespace (or the end of the text).
    let after_ws = rest.trim_start();
    if after_ws.len() == rest.len() {
        return None; // "2.5", "U.S.A", "e.g.," or end of text (handled by the final push)
    }
    let next = after_ws.chars().next()?;
    // Anything but a lowercase letter or mid-sentence punctuation can start a sentence:
    // capitals, digits, opening brackets and quotes, caseless scripts, symbols.
    let starts_sentence = !next.is_lowercase()
        && (!next.is_ascii_punctuation() || matches!(next, '(' | '[' | '"' | '\''));
    if !starts_sentence {
        return None;
    }
    if bytes[i] == b'.' {
        let word = word_before(text, i);
        let lower = word.to_lowercase();
        if ABBREVIATIONS.contains(&lower.as_str()) {
            return None;
        }
        if COMPANY_SUFFIXES.contains(&lower.as_str()) && !next.is_uppercase() {
            return None;
        }
        // Single-letter initial ("J. Smith") or dotted acronym ("U.S.", "e.g" handled above).
        let mut chars = word.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            if c.is_uppercase() {
                return None;
            }
        }
        if word.contains('.') && word.split('.').all(|p| p.chars().count() <= 1) {
            return None;
        }
    }
    Some(end)
}

/// The word (letters, digits and inner dots) ending just before byte `i`.
fn word_before(text: &str, i: usize) -> &str {
    let head = &text[..i];
    let start = head
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '.'))
        .map(|(j, c)| j + c.len_utf8())
        .unwrap_or(0);
    &head[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sents(text: &str) -> Vec<&str> {
        split_sentences(text)
            .into_iter()
            .map(|s| &text[s.start..s.end])
            .collect()
    }

    #[test]
    fn splits_plain_sentences() {
        assert_eq!(
            sents("AML is a cancer. It affects blood!  Why? Because."),
            vec!["AML is a cancer.", "It affects blood!", "Why?", "Because."]
        );
    }

    #[test]
    fn keeps_biomedical_abbreviations_together() {
        let text =
            "Cytokines (e.g. IL-2) were measured as in Fig. 2 by Smith et al. The results held.";
        assert_eq!(
            sents(text),
            vec![
                "Cytokines (e.g. IL-2) were measured as in Fig. 2 by Smith et al. The results held."
            ]
        );
        assert_eq!(
            sents("Dr. Jones vs. J. Smith met in the U.S. Capitol. Done."),
            vec!["Dr. Jones vs. J. Smith met in the U.S. Capitol.", "Done."]
        );
    }

    #[test]
    fn company_suffixes() {
        assert_eq!(
            sents("Calidi Biotherapeutics Inc. (NYSE American: CLDI) announced data. Shares rose."),
            vec![
                "Calidi Biotherapeutics Inc. (NYSE American: CLDI) announced data.",
                "Shares rose."
            ]
        );
        assert_eq!(
            sents("The deal was signed by Acme Inc. The company said so."),
            vec!["The deal was signed by Acme Inc.", "The company said so."]
        );
    }

    #[test]
    fn decimals_quotes_and_newlines() {
        assert_eq!(
            sents("Dose was 2.5 mg. \"Good,\" he said.\nTitle line\n\nNext para\ncontinues here."),
            vec![
                "Dose was 2.5 mg.",
                "\"Good,\" he said.",
                "Title line",
                "Next para\ncontinues here."
            ]
        );
    }

    #[test]
    fn overlong_runs_are_cut_at_whitespace() {
        let words = "leukemia cells of the NK and CAR-T ".repeat(1_000);
        let text = format!("Start {words}end");
        let spans = split_sentences(&text);
        assert!(spans.len() >= 3, "{} spans", spans.len());
        for s in &spans {
            let t = &text[s.start..s.end];
            assert!(s.len() <= MAX_SENTENCE_BYTES && !t.is_empty());
            assert_eq!(t, t.trim(), "trimmed");
        }
        // Nothing but whitespace is lost, and no word is cut.
        let joined: Vec<&str> = spans.iter().map(|s| &text[s.start..s.end]).collect();
        assert_eq!(joined.join(" "), text.trim());
        // Without any whitespace the cut falls on a character boundary.
        let cjk = "日本語".repeat(5_000);
        let spans = split_sentences(&cjk);
        assert!(spans.len() >= 4);
        assert!(spans.iter().all(|s| s.len() <= MAX_SENTENCE_BYTES));
        let joined: String = spans.iter().map(|s| &cjk[s.start..s.end]).collect();
        assert_eq!(joined, cjk);
    }

    #[test]
    fn non_ascii_and_empty() {
        assert!(split_sentences("").is_empty());
        assert!(split_sentences("  \n\n ").is_empty());
        assert_eq!(
            sents("Ça marche. 日本語の文です。 Émile arrived. 😀 ok."),
            vec!["Ça marche.", "日本語の文です。 Émile arrived.", "😀 ok."]
        );
    }
}
