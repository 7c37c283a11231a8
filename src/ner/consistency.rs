//! Document-level label consistency: a name tagged with one label in most of its occurrences in
//! a document gets that label in the others, including occurrences the model left untagged or
//! cut into fragments (a headline's "Chronic Lymphocytic Leukemia" after the body's "chronic
//! lymphocytic leukemia"). "Most" is a strict majority; an occurrence the model left untagged
//! also takes the label when exactly half the occurrences carry it and none carries another
//! (a name seen twice, once tagged: the headline and the first paragraph). A company name with
//! a legal form also stands for the name without it ("Calidi Biotherapeutics, Inc." makes a
//! headline's "Calidi Biotherapeutics" a company). Names are compared without ASCII case, on
//! whole words, in the text the model read (markup blanked).

use std::collections::HashMap;

use aho_corasick::{AhoCorasickBuilder, MatchKind};

use super::DocAnnotation;
use crate::normalize::keys::LEGAL_SUFFIXES;
use crate::types::{CharIndex, EntityLabel, Mention, Span};

/// Shortest name (bytes) the rule applies to.
const MIN_NAME: usize = 3;

/// Apply the rule to one document's mentions. `text`: the original document; `read`: what the
/// model read (same byte offsets); `chars`: the document's byte → char index.
pub fn apply(text: &str, read: &str, chars: &CharIndex, ann: &mut DocAnnotation) {
    if ann.mentions.len() < 2 {
        return;
    }
    // Mentions by lowercase name, with their byte spans (mention spans are in characters).
    let mut names: Vec<String> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut intern = |key: String| -> Option<usize> {
        if key.len() < MIN_NAME || !key.chars().any(char::is_alphabetic) {
            return None;
        }
        Some(*by_name.entry(key.clone()).or_insert_with(|| {
            names.push(key);
            names.len() - 1
        }))
    };
    // Each mention's name, and its name without a legal form.
    let keys: Vec<(Option<usize>, Option<usize>)> = ann
        .mentions
        .iter()
        .map(|(_, m)| {
            let full = intern(m.text.to_ascii_lowercase());
            let short = without_legal_form(&m.text).and_then(|s| intern(s.to_ascii_lowercase()));
            (full, short)
        })
        .collect();
    if names.is_empty() {
        return;
    }
    let Ok(ac) = AhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        .build(&names)
    else {
        return;
    };
    let folded = read.to_ascii_lowercase();
    let bytes = folded.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b >= 0x80;
    // Occurrences (byte spans) of each name.
    let mut occurrences: Vec<Vec<Span>> = vec![Vec::new(); names.len()];
    for m in ac.find_overlapping_iter(bytes) {
        let whole = (m.start() == 0 || !word(bytes[m.start() - 1]))
            && (m.end() == bytes.len() || !word(bytes[m.end()]));
        if whole {
            occurrences[m.pattern().as_usize()].push(Span::new(m.start(), m.end()));
        }
    }
    // Existing mentions by byte span.
    let mention_bytes: Vec<Span> = ann
        .mentions
        .iter()
        .map(|(_, m)| chars.byte_span(m.span))
        .collect();
    let mut added: Vec<(usize, Mention)> = Vec::new();
    let mut fragments: Vec<usize> = Vec::new();
    for (n, occ) in occurrences.iter().enumerate() {
        if occ.len() < 2 {
            continue;
        }
        // Labels of the mentions that tag an occurrence: the name exactly, or a longer name
        // with a legal form that starts with it.
        let mut counts: HashMap<EntityLabel, (usize, f32)> = HashMap::new();
        for (k, (_, m)) in ann.mentions.iter().enumerate() {
            let mb = mention_bytes[k];
            let tags = (keys[k].0 == Some(n) && occ.contains(&mb))
                || (keys[k].1 == Some(n)
                    && occ.iter().any(|o| o.start == mb.start && o.end <= mb.end));
            if tags {
                let e = counts.entry(m.label).or_default();
                e.0 += 1;
                e.1 += m.score;
            }
        }
        let Some((&label, &(count, score_sum))) = counts
            .iter()
            .max_by_key(|(l, (c, _))| (*c, std::cmp::Reverse(**l)))
        else {
            continue;
        };
        let majority = count * 2 > occ.len();
        let unopposed_half = count * 2 == occ.len() && counts.len() == 1;
        if !majority && !unopposed_half {
            continue;
        }
        let score = score_sum / count as f32;
        for &o in occ {
            let overlapping: Vec<usize> = (0..mention_bytes.len())
                .filter(|&k| mention_bytes[k].overlaps(&o))
                .collect();
            match overlapping.as_slice() {
                [] => {
                    let span = chars.span(o);
                    let Some(sentence) = ann
                        .sentences
                        .iter()
                        .position(|s| s.start <= span.start && span.end <= s.end)
                    else {
                        continue;
                    };
                    added.push((
                        sentence,
                        Mention {
                            span,
                            text: text[o.start..o.end].to_string(),
                            label,
                            score,
                        },
                    ));
                }
                [k] if mention_bytes[*k] == o => ann.mentions[*k].1.label = label,
                // Fragments inside the name ("Chronic" + "Lymphocytic Leukemia" in a
                // headline) give way to the whole name.
                parts
                    if parts.iter().all(|&k| {
                        o.start <= mention_bytes[k].start && mention_bytes[k].end <= o.end
                    }) =>
                {
                    let sentence = ann.mentions[parts[0]].0;
                    for &k in parts {
                        fragments.push(k);
                    }
                    added.push((
                        sentence,
                        Mention {
                            span: chars.span(o),
                            text: text[o.start..o.end].to_string(),
                            label,
                            score,
                        },
                    ));
                }
                _ => {} // part of a longer or different mention: left alone
            }
        }
    }
    if !fragments.is_empty() {
        fragments.sort_unstable();
        fragments.dedup();
        for k in fragments.into_iter().rev() {
            ann.mentions.remove(k);
        }
    }
    if !added.is_empty() {
        // Two names may claim the same untagged words: the first (longest kept) wins.
        added.sort_by_key(|(_, m)| (m.span.start, std::cmp::Reverse(m.span.end)));
        let mut last_end = 0;
        for (s, m) in added {
            if m.span.start >= last_end {
                last_end = m.span.end;
                ann.mentions.push((s, m));
            }
        }
        ann.mentions
            .sort_by_key(|(s, m)| (*s, m.span.start, m.span.end));
        ann.mentions
            .dedup_by(|a, b| a.1.span.overlaps(&b.1.span) && a.1.span.start >= b.1.span.start);
    }
}

/// A company name without its trailing legal form ("Calidi Biotherapeutics, Inc." →
/// "Calidi Biotherapeutics"), or None when it has none.
fn without_legal_form(name: &str) -> Option<&str> {
    let trimmed = name.trim_end_matches(['.', ' ']);
    let cut = trimmed.rfind([' ', ','])?;
    let last = &trimmed[cut + 1..];
    if !LEGAL_SUFFIXES.contains(&last.replace('.', "").to_ascii_lowercase().as_str()) {
        return None;
    }
    let short = trimmed[..cut].trim_end_matches([',', ' ']);
    (!short.is_empty()).then_some(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mention(text: &str, word: &str, nth: usize, label: EntityLabel) -> (usize, Mention) {
        let start = text.match_indices(word).nth(nth).unwrap().0;
        (
            0,
            Mention {
                span: Span::new(start, start + word.len()),
                text: word.to_string(),
                label,
                score: 0.9,
            },
        )
    }

    #[test]
    fn a_company_name_stands_for_itself_without_its_legal_form() {
        use EntityLabel::*;
        assert_eq!(
            without_legal_form("Calidi Biotherapeutics, Inc."),
            Some("Calidi Biotherapeutics")
        );
        assert_eq!(without_legal_form("Bayer AG"), Some("Bayer"));
        assert_eq!(without_legal_form("Lund University"), None);
        let text = "Calidi Biotherapeutics Expands Trial. Calidi Biotherapeutics, Inc. said so.";
        let mut ann = DocAnnotation {
            sentences: vec![Span::new(0, 37), Span::new(38, text.len())],
            mentions: vec![
                mention(text, "Calidi", 0, Chemical),
                mention(text, "Calidi Biotherapeutics, Inc.", 0, Company),
            ],
            ..Default::default()
        };
        ann.mentions[1].0 = 1;
        apply(text, text, &CharIndex::new(text), &mut ann);
        let got: Vec<(usize, &str, EntityLabel)> = ann
            .mentions
            .iter()
            .map(|(s, m)| (*s, m.text.as_str(), m.label))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, "Calidi Biotherapeutics", Company),
                (1, "Calidi Biotherapeutics, Inc.", Company)
            ]
        );
    }

    #[test]
    fn the_majority_label_spreads_to_the_other_occurrences() {
        use EntityLabel::*;
        let text = "CHRONIC LYMPHOCYTIC LEUKEMIA: chronic lymphocytic leukemia and chronic lymphocytic leukemia; Acme in Acme, Acme";
        let mut ann = DocAnnotation {
            sentences: vec![Span::new(0, text.len())],
            mentions: vec![
                mention(text, "CHRONIC", 0, Disease),
                mention(text, "LYMPHOCYTIC LEUKEMIA", 0, Disease),
                mention(text, "chronic lymphocytic leukemia", 0, Disease),
                mention(text, "chronic lymphocytic leukemia", 1, Disease),
                mention(text, "Acme", 0, Company),
                mention(text, "Acme", 1, Organization),
            ],
            ..Default::default()
        };
        apply(text, text, &CharIndex::new(text), &mut ann);
        let got: Vec<(&str, EntityLabel)> = ann
            .mentions
            .iter()
            .map(|(_, m)| (m.text.as_str(), m.label))
            .collect();
        assert_eq!(
            got,
            vec![
                ("CHRONIC LYMPHOCYTIC LEUKEMIA", Disease),
                ("chronic lymphocytic leukemia", Disease),
                ("chronic lymphocytic leukemia", Disease),
                ("Acme", Company),
                ("Acme", Organization),
            ],
            "the headline's fragments become the whole name; Acme: 2 of 3 tagged but split 1-1, so no majority"
        );
        for (_, m) in &ann.mentions {
            assert_eq!(&text[m.span.start..m.span.end], m.text);
        }
    }
}
