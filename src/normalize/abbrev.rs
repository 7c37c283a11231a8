//! Abbreviation definitions in running text, after Schwartz & Hearst (PSB 2003): "acute
//! myeloid leukemia (AML)", "natural killer (NK) cells", and the reverse "IL-2 (interleukin 2)".
//!
//! A candidate is a parenthesis next to a word window; the long form is the shortest run of
//! words ending before the parenthesis whose characters contain the short form's letters and
//! digits in order, the first one at a word start.

use std::collections::HashMap;

use crate::types::Span;

/// One definition: byte spans into the text it was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abbreviation {
    pub short: String,
    pub long: String,
    pub short_span: Span,
    pub long_span: Span,
}

/// Short forms defined in one document, first definition wins.
#[derive(Debug, Clone, Default)]
pub struct AbbreviationMap {
    map: HashMap<String, Abbreviation>,
}

impl AbbreviationMap {
    pub fn of_text(text: &str) -> Self {
        let mut map = HashMap::new();
        for a in find_abbreviations(text) {
            map.entry(a.short.clone()).or_insert(a);
        }
        AbbreviationMap { map }
    }

    /// The definition of a short form (exact, case-sensitive).
    pub fn get(&self, short: &str) -> Option<&Abbreviation> {
        self.map.get(short)
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Replace every whole word of `text` that is a defined short form by its long form;
    /// `None` when nothing was replaced.
    pub fn expand(&self, text: &str) -> Option<String> {
        if self.map.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len() * 2);
        let mut changed = false;
        let mut last = 0;
        for (start, word) in word_bounds(text) {
            if let Some(a) = self.map.get(word) {
                out.push_str(&text[last..start]);
                out.push_str(&a.long);
                last = start + word.len();
                changed = true;
            }
        }
        out.push_str(&text[last..]);
        changed.then_some(out)
    }
}

/// Words split on whitespace and on dashes and slashes ("NK-cell" → "NK", "cell").
fn word_bounds(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive(|c: char| c.is_whitespace() || c == '-' || c == '/')
        .scan(0usize, |pos, piece| {
            let start = *pos;
            *pos += piece.len();
            let word = piece.trim_end_matches(|c: char| c.is_whitespace() || c == '-' || c == '/');
            let word = word.trim_end_matches([',', ';', '.', ':']);
            Some((start, word))
        })
        .filter(|(_, w)| !w.is_empty())
}

const MAX_INSIDE: usize = 120;

/// All definitions in `text`, in order of appearance.
pub fn find_abbreviations(text: &str) -> Vec<Abbreviation> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'(' {
            i += 1;
            continue;
        }
        let open = i;
        i += 1;
        let Some(close) = matching_close(text, open) else {
            continue;
        };
        let inside_full = &text[open + 1..close];
        // "(AML; n = 12)" or "(AML, see below)": the short form is the part before ';' or ','.
        let cut = inside_full.find([';', ',']).unwrap_or(inside_full.len());
        let inside = inside_full[..cut].trim();
        let inside_start =
            open + 1 + (inside_full[..cut].len() - inside_full[..cut].trim_start().len());
        let before = sentence_before(text, open);
        if is_short_form(inside) {
            let found = best_long_form(text, before, inside)
                .or_else(|| permuted_initials(text, before, inside));
            if let Some(long_span) = found {
                out.push(Abbreviation {
                    short: inside.to_string(),
                    long: text[long_span.start..long_span.end].to_string(),
                    short_span: Span::new(inside_start, inside_start + inside.len()),
                    long_span,
                });
            }
        } else if inside.split_whitespace().count() >= 2 {
            // Reverse form: "IL-2 (interleukin 2)". The short form is the word before '('.
            let head = text[before.start..open].trim_end();
            let word_start = head.rfind(char::is_whitespace).map(|p| p + 1).unwrap_or(0);
            let word = &head[word_start..];
            // ">PR (partial response)": the short form starts at its first alphanumeric.
            let lead = word.len()
                - word
                    .trim_start_matches(|c: char| !c.is_alphanumeric())
                    .len();
            let short = &word[lead..];
            let short_start = before.start + word_start + lead;
            if is_short_form(short) && short.chars().any(|c| c.is_uppercase()) {
                let window = Span::new(inside_start, inside_start + inside.len());
                if let Some(long_span) = best_long_form(text, window, short) {
                    // The whole parenthesis must be the long form.
                    if long_span.start == window.start {
                        out.push(Abbreviation {
                            short: short.to_string(),
                            long: inside.to_string(),
                            short_span: Span::new(short_start, short_start + short.len()),
                            long_span,
                        });
                    }
                }
            }
        }
    }
    out
}

fn matching_close(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, c) in text[open..].char_indices() {
        if j > MAX_INSIDE {
            return None;
        }
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + j);
                }
            }
            '\n' => return None,
            _ => {}
        }
    }
    None
}

/// The byte range from the start of the sentence (or clause) holding `pos` to `pos`.
fn sentence_before(text: &str, pos: usize) -> Span {
    // A long form has at most 2 × 10 words: a few hundred bytes back are plenty, and the scan
    // stays short in texts without sentence ends.
    let mut floor = pos.saturating_sub(MAX_LOOKBACK);
    while !text.is_char_boundary(floor) {
        floor += 1;
    }
    let head = &text[floor..pos];
    let mut start = 0;
    for (j, c) in head.char_indices().rev() {
        if matches!(c, '\n' | ';' | ']' | '[') {
            start = j + c.len_utf8();
            break;
        }
        if matches!(c, '.' | '?' | '!') && head[j + 1..].starts_with(' ') {
            start = j + 1;
            break;
        }
    }
    if start == 0 && floor > 0 {
        // Cut mid-sentence: begin at the first whole word.
        start = head
            .char_indices()
            .find(|(_, c)| c.is_whitespace())
            .map_or(head.len(), |(i, c)| i + c.len_utf8());
    }
    Span::new(floor + start, pos)
}

const MAX_LOOKBACK: usize = 400;

/// Schwartz & Hearst's conditions on a short form: 2–10 characters, at most two words, a
/// letter, an alphanumeric first character, and nothing that reads as arithmetic.
fn is_short_form(s: &str) -> bool {
    let n = s.chars().count();
    (2..=10).contains(&n)
        && s.split_whitespace().count() <= 2
        && s.chars().next().is_some_and(char::is_alphanumeric)
        && s.chars().any(char::is_alphabetic)
        && s.chars().all(|c| {
            c.is_alphanumeric() || matches!(c, '-' | '/' | '.' | '+' | '&' | '\'' | ' ' | '_')
        })
        // "(p < 0.05)", "(n = 12)", "(1998)", "(i)", "(ii)", "(a)" are not abbreviations.
        && !s.chars().all(|c| c.is_ascii_digit() || c == '.')
        && !matches!(s, "i" | "ii" | "iii" | "iv" | "vi" | "et al" | "e.g" | "i.e" | "eg" | "ie" | "vs")
}

/// Where the last words of `text` start when their initials are exactly the letters and
/// digits of the short form.
fn initials_start(text: &str, short_chars: &[char]) -> Option<usize> {
    let letters: Vec<char> = short_chars
        .iter()
        .copied()
        .filter(|c| c.is_alphanumeric())
        .collect();
    if letters.len() < 2 {
        return None;
    }
    let mut words: Vec<(usize, &str)> = Vec::new();
    let mut start = None;
    for (b, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(b),
            (false, Some(s)) => {
                words.push((s, &text[s..b]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, &text[s..]));
    }
    if words.len() < letters.len() {
        return None;
    }
    let tail = &words[words.len() - letters.len()..];
    let matches = tail.iter().zip(&letters).all(|((_, w), l)| {
        w.chars()
            .next()
            .is_some_and(|c| c.to_lowercase().eq(std::iter::once(*l)))
    });
    matches.then(|| tail[0].0)
}

/// "Myotonic dystrophy (DM)" (from the Latin dystrophia myotonica): the last words'
/// initials are the short form's letters in another order. Tried only when the ordered match
/// fails, for all-letter short forms of 2–4 letters.
fn permuted_initials(text: &str, window: Span, short: &str) -> Option<Span> {
    let mut letters: Vec<char> = short.chars().flat_map(char::to_lowercase).collect();
    if !(2..=4).contains(&letters.len()) || !letters.iter().all(|c| c.is_alphabetic()) {
        return None;
    }
    let long_text = text[window.start..window.end].trim_end();
    let words: Vec<(usize, &str)> = long_text
        .split_whitespace()
        .map(|w| (w.as_ptr() as usize - long_text.as_ptr() as usize, w))
        .collect();
    if words.len() < letters.len() {
        return None;
    }
    let tail = &words[words.len() - letters.len()..];
    let mut initials: Vec<char> = tail
        .iter()
        .filter_map(|(_, w)| w.chars().next())
        .flat_map(char::to_lowercase)
        .collect();
    initials.sort_unstable();
    letters.sort_unstable();
    if initials != letters
        || tail
            .iter()
            .any(|(_, w)| !w.chars().all(char::is_alphabetic))
    {
        return None;
    }
    let start = window.start + tail[0].0;
    Some(Span::new(start, window.start + long_text.len()))
}

/// The long form for `short` ending at `window.end`, searched in `text[window]`.
fn best_long_form(text: &str, window: Span, short: &str) -> Option<Span> {
    let long_text = &text[window.start..window.end];
    let trimmed = long_text.trim_end();
    let short_chars: Vec<char> = short.chars().flat_map(char::to_lowercase).collect();
    let long_chars: Vec<(usize, char)> = trimmed.char_indices().collect();
    let n_letters = short_chars.iter().filter(|c| c.is_alphanumeric()).count();
    let max_words = (n_letters + 5).min(n_letters * 2);

    let mut s = short_chars.len() as isize - 1;
    let mut l = long_chars.len() as isize - 1;
    while s >= 0 {
        let cur = short_chars[s as usize];
        if !cur.is_alphanumeric() {
            s -= 1;
            continue;
        }
        loop {
            if l < 0 {
                return None;
            }
            let lc = long_chars[l as usize].1;
            let matches_char = lc.to_lowercase().eq(std::iter::once(cur));
            let at_word_start = l == 0 || !long_chars[l as usize - 1].1.is_alphanumeric();
            if matches_char && (s > 0 || at_word_start) {
                break;
            }
            l -= 1;
        }
        l -= 1;
        s -= 1;
    }
    // Back to the start of the word holding the first match, not across a closing
    // parenthesis ("(bort)-dexamethasone"), without leading punctuation.
    let first = (l + 1) as usize;
    let mut start_byte = long_chars[..=first]
        .iter()
        .rev()
        .find(|(_, c)| c.is_whitespace() || *c == ')')
        .map(|(b, c)| b + c.len_utf8())
        .unwrap_or(0);
    // "relapsed/refractory multiple myeloma (MM)": when the last words' initials spell the
    // short form, they are the long form (Schwartz & Hearst alone stop at "myeloma").
    if let Some(b) = initials_start(trimmed, &short_chars) {
        start_byte = start_byte.min(b);
    }
    let from_start = trimmed[start_byte..].trim_start_matches(|c: char| !c.is_alphanumeric());
    let start_byte = trimmed.len() - from_start.len();
    let long = from_start.trim_end_matches(['"', '\'']);
    // A clause break inside is not a name ("Pendred, the disease gene (PDS)").
    if long.contains(", ") {
        return None;
    }
    // "AP-1-binding site (AP-1 site)" shortens a phrase, it does not abbreviate it.
    let mut short_words = short.split_whitespace();
    if let (Some(_), Some(second)) = (short_words.next(), short_words.next()) {
        if second.chars().all(|c| c.is_lowercase()) && long.split_whitespace().any(|w| w == second)
        {
            return None;
        }
    }
    let words = long.split_whitespace().count();
    if words == 0 || words > max_words || long.chars().count() <= short.chars().count() {
        return None;
    }
    // The long form must not just contain the short form as a word ("AML cells (AML)").
    if long.split_whitespace().any(|w| w == short) {
        return None;
    }
    let start = window.start + start_byte;
    Some(Span::new(start, start + long.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        find_abbreviations(text)
            .into_iter()
            .map(|a| {
                assert_eq!(&text[a.short_span.start..a.short_span.end], a.short);
                assert_eq!(&text[a.long_span.start..a.long_span.end], a.long);
                (a.short, a.long)
            })
            .collect()
    }

    fn p(s: &str, l: &str) -> (String, String) {
        (s.to_string(), l.to_string())
    }

    #[test]
    fn classic_definitions() {
        assert_eq!(
            pairs("Patients with acute myeloid leukemia (AML) were treated."),
            vec![p("AML", "acute myeloid leukemia")]
        );
        assert_eq!(
            pairs("We isolated natural killer (NK) cells from blood."),
            vec![p("NK", "natural killer")]
        );
        assert_eq!(
            pairs("Heat shock protein 70 (HSP70) binds. Tumor necrosis factor-alpha (TNF-alpha) rose."),
            vec![
                p("HSP70", "Heat shock protein 70"),
                p("TNF-alpha", "Tumor necrosis factor-alpha")
            ]
        );
        assert_eq!(
            pairs("in adenomatous polyposis coli (APC; n = 4) families"),
            vec![p("APC", "adenomatous polyposis coli")]
        );
    }

    #[test]
    fn initials_in_another_order() {
        assert_eq!(
            pairs("Myotonic dystrophy (DM) is common. Congenital myotonic dystrophy (CDM) too."),
            vec![
                p("DM", "Myotonic dystrophy"),
                p("CDM", "Congenital myotonic dystrophy")
            ]
        );
        assert_eq!(
            pairs("relapsed/refractory multiple myeloma (MM)"),
            vec![p("MM", "multiple myeloma")]
        );
    }

    #[test]
    fn reverse_definitions() {
        assert_eq!(
            pairs("Cells were treated with IL-2 (interleukin 2) for a day."),
            vec![p("IL-2", "interleukin 2")]
        );
    }

    #[test]
    fn not_definitions() {
        assert!(pairs("The effect was small (p < 0.05) and rare (n = 12).").is_empty());
        assert!(pairs("as shown before (Smith et al., 1998)").is_empty());
        assert!(pairs("three groups (i) young (ii) old").is_empty());
        assert!(
            pairs("patients with cancer (AML)").is_empty(),
            "letters not found"
        );
        assert!(pairs("unclosed (AML").is_empty());
    }

    #[test]
    fn multibyte_text_keeps_byte_spans_valid() {
        let text = "Über die akute myeloische Leukämie (AML) – 白血病 (CJK).";
        let found = pairs(text);
        assert_eq!(found, vec![p("AML", "akute myeloische Leukämie")]);
    }

    #[test]
    fn map_expands_whole_words_only() {
        let m =
            AbbreviationMap::of_text("natural killer (NK) cells and acute myeloid leukemia (AML).");
        assert_eq!(m.len(), 2);
        assert_eq!(
            m.expand("NK cells").as_deref(),
            Some("natural killer cells")
        );
        assert_eq!(
            m.expand("NK-cell lysis").as_deref(),
            Some("natural killer-cell lysis")
        );
        assert_eq!(m.expand("NKT cells"), None);
        assert_eq!(m.get("AML").unwrap().long, "acute myeloid leukemia");
    }
}
