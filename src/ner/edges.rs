//! Span edges: an entity never starts or ends with a function word or dangling punctuation
//! ("the", "and", "of", a comma, an unmatched parenthesis), is never punctuation alone or a
//! single letter, and an organization never swallows the country after its comma ("Lund
//! University, Sweden" → "Lund University").

/// Words that never start an entity (compared without case).
const NO_START: &[&str] = &[
    "the", "a", "an", "and", "or", "of", "for", "in", "on", "at", "to", "with", "by", "from", "as",
    "via", ",", ";", ":", ".", "-", "\u{2013}", "\u{2014}", "(", ")", "'", "\"", "/", "&",
    "\u{201c}", "\u{201d}", "\u{2018}", "\u{2019}",
];

/// Words that never end an entity.
const NO_END: &[&str] = &[
    "the", "a", "an", "and", "or", "of", "for", "in", "on", "at", "to", "with", "by", "from", "as",
    "via", ",", ";", ":", "-", "\u{2013}", "\u{2014}", "(", "'", "\"", "/", "&", "\u{201c}",
    "\u{201d}", "\u{2018}",
];

/// Countries (and the usual short forms) that follow an organization after a comma.
const COUNTRIES: &[&str] = &[
    "usa",
    "us",
    "u.s",
    "u.s.",
    "u.s.a",
    "u.s.a.",
    "united states",
    "united states of america",
    "uk",
    "u.k",
    "u.k.",
    "united kingdom",
    "england",
    "scotland",
    "wales",
    "ireland",
    "northern ireland",
    "canada",
    "mexico",
    "brazil",
    "argentina",
    "chile",
    "colombia",
    "peru",
    "germany",
    "france",
    "italy",
    "spain",
    "portugal",
    "netherlands",
    "the netherlands",
    "belgium",
    "luxembourg",
    "switzerland",
    "austria",
    "sweden",
    "norway",
    "denmark",
    "finland",
    "iceland",
    "poland",
    "czech republic",
    "czechia",
    "hungary",
    "romania",
    "greece",
    "turkey",
    "israel",
    "egypt",
    "south africa",
    "nigeria",
    "kenya",
    "india",
    "pakistan",
    "china",
    "hong kong",
    "taiwan",
    "japan",
    "korea",
    "south korea",
    "republic of korea",
    "singapore",
    "malaysia",
    "thailand",
    "vietnam",
    "indonesia",
    "philippines",
    "australia",
    "new zealand",
    "russia",
    "ukraine",
    "saudi arabia",
    "united arab emirates",
    "uae",
    "qatar",
    "iran",
    "estonia",
    "latvia",
    "lithuania",
    "slovenia",
    "croatia",
    "serbia",
    "bulgaria",
    "slovakia",
];

fn is_one_of(word: &str, list: &[&str]) -> bool {
    list.iter().any(|w| w.eq_ignore_ascii_case(word))
}

/// A function word or punctuation of `list`, in lower or Title case ("the", "The"); a word in
/// capitals is an abbreviation, never a function word ("A - T", "AT" for ataxia
/// telangiectasia, "OR").
fn is_function_word(word: &str, list: &[&str]) -> bool {
    let capitals = word.chars().any(char::is_uppercase)
        && word.chars().skip(1).all(|c| !c.is_lowercase())
        && (word.chars().count() > 1 || word == "A");
    !capitals && is_one_of(word, list)
}

/// Trim the words `words[first..=last]` (byte ranges in `text`) of a span; returns the kept
/// range of word indices, or None when nothing is left.
pub fn trim(
    text: &str,
    words: &[(usize, usize)],
    first: usize,
    last: usize,
) -> Option<(usize, usize)> {
    let w = |i: usize| &text[words[i].0..words[i].1];
    let (mut a, mut b) = (first, last);
    // A country after the last comma: cut before the comma.
    if let Some(comma) = (a + 1..b).rev().find(|&i| w(i) == ",") {
        let tail = text[words[comma + 1].0..words[b].1].trim();
        let tail = tail.split_whitespace().collect::<Vec<_>>().join(" ");
        if is_one_of(&tail, COUNTRIES) {
            b = comma - 1;
        }
    }
    loop {
        if a > b {
            return None;
        }
        if is_function_word(w(a), NO_START) {
            a += 1;
            continue;
        }
        let end = w(b);
        let unmatched_close = end == ")" && !(a..b).any(|i| w(i) == "(");
        if is_function_word(end, NO_END) || unmatched_close {
            if b == 0 {
                return None;
            }
            b -= 1;
            continue;
        }
        // Punctuation alone ("#", "--") or a single letter or digit is never an entity.
        let alnum: usize = (a..=b)
            .map(|i| w(i).chars().filter(|c| c.is_alphanumeric()).count())
            .sum();
        return (alnum > 1).then_some((a, b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words split at spaces and around punctuation, like the pre-tokenizer.
    fn words(text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices() {
            if c.is_alphanumeric() {
                start.get_or_insert(i);
                continue;
            }
            if let Some(s) = start.take() {
                out.push((s, i));
            }
            if !c.is_whitespace() {
                out.push((i, i + c.len_utf8()));
            }
        }
        if let Some(s) = start {
            out.push((s, text.len()));
        }
        out
    }

    fn kept(text: &str) -> Option<String> {
        let w = words(text);
        trim(text, &w, 0, w.len() - 1).map(|(a, b)| text[w[a].0..w[b].1].to_string())
    }

    #[test]
    fn function_words_and_dangling_punctuation_go() {
        assert_eq!(
            kept("the University of Oslo and").as_deref(),
            Some("University of Oslo")
        );
        assert_eq!(
            kept("breast and ovarian cancer").as_deref(),
            Some("breast and ovarian cancer")
        );
        assert_eq!(
            kept("( Lund University").as_deref(),
            Some("Lund University")
        );
        assert_eq!(kept("Nasdaq )").as_deref(), Some("Nasdaq"));
        assert_eq!(
            kept("glucose-6-phosphate dehydrogenase (G6PD)").as_deref(),
            Some("glucose-6-phosphate dehydrogenase (G6PD)")
        );
        assert_eq!(kept("of the"), None);
        assert_eq!(kept("#"), None);
        assert_eq!(kept("T"), None);
        assert_eq!(
            kept("A - T").as_deref(),
            Some("A - T"),
            "capitals are abbreviations"
        );
        assert_eq!(kept("AT").as_deref(), Some("AT"));
        assert_eq!(kept("The Lancet Of").as_deref(), Some("Lancet"));
        assert_eq!(kept("T cells").as_deref(), Some("T cells"));
    }

    #[test]
    fn countries_after_a_comma_are_cut() {
        assert_eq!(
            kept("Lund University, Sweden").as_deref(),
            Some("Lund University")
        );
        assert_eq!(
            kept("Harvard Medical School, U.S.").as_deref(),
            Some("Harvard Medical School")
        );
        assert_eq!(
            kept("University of California, Berkeley").as_deref(),
            Some("University of California, Berkeley"),
            "a campus is part of the name"
        );
    }
}
