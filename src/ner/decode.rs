//! From per-piece O/B/I probabilities to whole-word entity spans.
//!
//! A word (pre-tokenizer unit: whitespace/punctuation split) takes the decision of its first
//! piece, so a span always starts at a word's first character and ends at a word's last one:
//! no "Am" + "##y" fragments. Each type is decoded on its own (per-type heads), then
//! overlapping spans of different types are resolved by keeping the more confident one.

use super::edges;
use crate::ner::backend::{NUM_TAGS, TAG_B, TAG_I, TAG_O};
use crate::ner::encode::Pieces;
use crate::types::Span;

/// A decoded span in byte offsets of the sentence text, with the index of its type.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSpan {
    pub span: Span,
    pub type_index: usize,
    pub score: f32,
}

/// A dash standing alone between spaces ("SAN DIEGO -- Calidi …", "X — Y") separates
/// clauses: no entity spans it. `start..end` is one pre-tokenizer word (punctuation is split
/// into single characters, so "--" arrives as two words); the test is on the whole
/// whitespace-delimited run around it. A single spaced hyphen ("CAR - T") does not count.
fn is_separator(text: &str, start: usize, end: usize) -> bool {
    let run_start = text[..start]
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let run_end = text[end..]
        .find(char::is_whitespace)
        .map_or(text.len(), |i| end + i);
    let run = &text[run_start..run_end];
    run != "-"
        && !run.is_empty()
        && run
            .chars()
            .all(|c| matches!(c, '-' | '\u{2013}' | '\u{2014}'))
}

/// How word tags become spans.
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// Constrained Viterbi per type (no I after O or at the start) instead of independent
    /// per-word argmax with "a dangling I starts a span".
    pub viterbi: bool,
    /// Trim function words and dangling punctuation at span edges and a country after a comma
    /// ([`edges::trim`]).
    pub trim_edges: bool,
    /// Join two spans of one type that touch (word after word, as "B B"): corpora disagree on
    /// whether modifiers belong to a name ("inherited" + "breast and ovarian cancer"), and
    /// the model, trained on both conventions, sometimes starts a second span inside one name.
    pub merge_adjacent: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            viterbi: true,
            trim_edges: true,
            merge_adjacent: true,
        }
    }
}

/// The best O/B/I path over words under the constraint that I follows B or I (or a
/// separator); `emit[w]` are the word's (O, B, I) probabilities; separator words may only be O.
fn viterbi(emit: &[[f32; 3]], separator: &[bool]) -> Vec<i64> {
    const NEG: f32 = f32::NEG_INFINITY;
    let n = emit.len();
    if n == 0 {
        return Vec::new();
    }
    let ln = |p: f32| p.max(1e-9).ln();
    let score = |w: usize, s: usize| {
        if separator[w] && s != TAG_O as usize {
            NEG
        } else {
            ln(emit[w][s])
        }
    };
    // I may not follow O, except after a separator (a dash between clauses): the model's I
    // there continues the name it saw across the dash, which the separator cut; it starts a
    // span of its own.
    let allowed = |w: usize, prev: usize, cur: usize| {
        !(cur == TAG_I as usize && prev == TAG_O as usize && !separator[w - 1])
    };
    let mut best = vec![[NEG; 3]; n];
    let mut back = vec![[0u8; 3]; n];
    for (s, cell) in best[0].iter_mut().enumerate() {
        if s != TAG_I as usize {
            *cell = score(0, s);
        }
    }
    for w in 1..n {
        let before = best[w - 1];
        for cur in 0..3 {
            let (mut top, mut arg) = (NEG, 0);
            for (prev, &value) in before.iter().enumerate() {
                if allowed(w, prev, cur) && value > top {
                    top = value;
                    arg = prev;
                }
            }
            best[w][cur] = top + score(w, cur);
            back[w][cur] = arg as u8;
        }
    }
    let mut state = (0..3)
        .max_by(|&a, &b| best[n - 1][a].total_cmp(&best[n - 1][b]).then(b.cmp(&a)))
        .unwrap_or(0);
    let mut tags = vec![TAG_O; n];
    for w in (0..n).rev() {
        tags[w] = state as i64;
        state = back[w][state] as usize;
    }
    tags
}

/// `text`: the sentence the pieces were encoded from. `probs`: `[pieces, types, 3]`
/// row-major, softmax over the last axis.
pub fn decode_sentence(
    text: &str,
    pieces: &Pieces,
    probs: &[f32],
    num_types: usize,
    options: &DecodeOptions,
) -> Vec<RawSpan> {
    let tags = NUM_TAGS as usize;
    debug_assert_eq!(probs.len(), pieces.len() * num_types * tags);
    // Words: (first piece, byte start, byte end, is a separator).
    let mut words: Vec<(usize, usize, usize, bool)> = Vec::new();
    for i in 0..pieces.len() {
        let (s, e) = pieces.offsets[i];
        if i > 0 && pieces.words[i] == pieces.words[i - 1] {
            let last = words.last_mut().expect("a previous word");
            last.2 = last.2.max(e);
        } else {
            words.push((i, s, e, false));
        }
    }
    for w in &mut words {
        // Only dash words can be separators; the test scans to the neighbouring whitespace,
        // which must not happen for every word of a text without spaces.
        let dash = text[w.1..w.2]
            .chars()
            .all(|c| matches!(c, '-' | '\u{2013}' | '\u{2014}'));
        w.3 = dash && w.1 < w.2 && is_separator(text, w.1, w.2);
    }
    let ranges: Vec<(usize, usize)> = words.iter().map(|w| (w.1, w.2)).collect();
    let separator: Vec<bool> = words.iter().map(|w| w.3).collect();
    let mut found = Vec::new();
    for t in 0..num_types {
        let p = |piece: usize, tag: i64| probs[(piece * num_types + t) * tags + tag as usize];
        let emit: Vec<[f32; 3]> = words
            .iter()
            .map(|&(piece, ..)| [p(piece, TAG_O), p(piece, TAG_B), p(piece, TAG_I)])
            .collect();
        let word_tags: Vec<i64> = if options.viterbi {
            viterbi(&emit, &separator)
        } else {
            emit.iter()
                .zip(&separator)
                .map(|(&[po, pb, pi], &sep)| {
                    if sep || (po >= pb && po >= pi) {
                        TAG_O
                    } else if pb >= pi {
                        TAG_B
                    } else {
                        TAG_I
                    }
                })
                .collect()
        };
        // Spans as word ranges: B (or an I with nothing open, as seqeval reads it) starts one.
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut open: Option<usize> = None;
        for (w, &tag) in word_tags.iter().enumerate() {
            match (tag, open) {
                (TAG_I, Some(_)) => {}
                (TAG_O, _) => {
                    if let Some(a) = open.take() {
                        spans.push((a, w - 1));
                    }
                }
                _ => {
                    if let Some(a) = open.take() {
                        spans.push((a, w - 1));
                    }
                    open = Some(w);
                }
            }
        }
        if let Some(a) = open {
            spans.push((a, words.len() - 1));
        }
        if options.merge_adjacent {
            spans.dedup_by(|next, prev| {
                let touch = next.0 == prev.1 + 1;
                if touch {
                    prev.1 = next.1;
                }
                touch
            });
        }
        for (a, b) in spans {
            let kept = if options.trim_edges {
                edges::trim(text, &ranges, a, b)
            } else {
                Some((a, b))
            };
            let Some((a, b)) = kept else { continue };
            let sum: f32 = emit[a..=b].iter().map(|e| 1.0 - e[0]).sum();
            found.push(RawSpan {
                span: Span::new(words[a].1, words[b].2),
                type_index: t,
                score: sum / (b - a + 1) as f32,
            });
        }
    }
    resolve_overlaps(found)
}

/// Keep the most confident of overlapping spans (longer wins ties, then earlier, then type
/// order), and return the kept spans sorted by position.
pub fn resolve_overlaps(mut spans: Vec<RawSpan>) -> Vec<RawSpan> {
    spans.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.span.len().cmp(&a.span.len()))
            .then(a.span.start.cmp(&b.span.start))
            .then(a.type_index.cmp(&b.type_index))
    });
    let mut kept: Vec<RawSpan> = Vec::with_capacity(spans.len());
    // Kept spans are disjoint, so only the one starting last before `s` ends can overlap it
    // (log n per span, whatever the sentence length).
    let mut taken: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    for s in spans {
        let clash = taken
            .range(..s.span.end)
            .next_back()
            .is_some_and(|(_, &end)| end > s.span.start);
        if !clash && !s.span.is_empty() {
            taken.insert(s.span.start, s.span.end);
            kept.push(s);
        } else if !clash {
            kept.push(s);
        }
    }
    kept.sort_by_key(|s| (s.span.start, s.span.end, s.type_index));
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "acute myeloid leukemia";

    /// Pieces for "acute myeloid leuk ##emia" (4 pieces, 3 words) with byte offsets.
    fn pieces() -> Pieces {
        Pieces {
            ids: vec![1, 2, 3, 4],
            offsets: vec![(0, 5), (6, 13), (14, 18), (18, 22)],
            words: vec![0, 1, 2, 2],
            shapes: vec![2, 2, 2, 3],
            lex: Vec::new(),
        }
    }

    fn probs(tags: &[[i64; 2]]) -> Vec<f32> {
        // Two types; a one-hot-ish distribution on the given tag.
        let mut v = Vec::new();
        for piece in tags {
            for &t in piece {
                let mut row = [0.1f32, 0.1, 0.1];
                row[t as usize] = 0.8;
                v.extend_from_slice(&row);
            }
        }
        v
    }

    #[test]
    fn whole_words_only() {
        // Type 0: B I I O(continuation says O, but the word follows its first piece).
        let p = probs(&[
            [TAG_B, TAG_O],
            [TAG_I, TAG_O],
            [TAG_I, TAG_O],
            [TAG_O, TAG_O],
        ]);
        let spans = decode_sentence(TEXT, &pieces(), &p, 2, &DecodeOptions::default());
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].span, Span::new(0, 22));
        assert_eq!(spans[0].type_index, 0);
        assert!((spans[0].score - 0.9).abs() < 1e-6);
    }

    #[test]
    fn argmax_dangling_i_starts_a_span_and_b_splits() {
        let p = probs(&[
            [TAG_I, TAG_O],
            [TAG_B, TAG_O],
            [TAG_O, TAG_B],
            [TAG_O, TAG_I],
        ]);
        let argmax = DecodeOptions {
            viterbi: false,
            trim_edges: true,
            merge_adjacent: false,
        };
        let spans = decode_sentence(TEXT, &pieces(), &p, 2, &argmax);
        let got: Vec<_> = spans.iter().map(|s| (s.span, s.type_index)).collect();
        assert_eq!(
            got,
            vec![
                (Span::new(0, 5), 0),
                (Span::new(6, 13), 0),
                (Span::new(14, 22), 1)
            ]
        );
    }

    #[test]
    fn viterbi_never_starts_with_i_and_keeps_the_whole_name() {
        // One type. Word 0 leans O (0.6 vs B 0.35), word 1 is clearly I: argmax reads "O I"
        // and starts a fragment at word 1; the best path that obeys the constraints is "B I".
        let p = vec![
            0.6, 0.35, 0.05, // acute
            0.2, 0.1, 0.7, // myeloid
            0.9, 0.05, 0.05, // leuk
            0.9, 0.05, 0.05, // ##emia
        ];
        let spans = |viterbi| {
            let o = DecodeOptions {
                viterbi,
                trim_edges: false,
                merge_adjacent: false,
            };
            decode_sentence(TEXT, &pieces(), &p, 1, &o)
                .iter()
                .map(|s| s.span)
                .collect::<Vec<_>>()
        };
        assert_eq!(spans(false), vec![Span::new(6, 13)]);
        assert_eq!(spans(true), vec![Span::new(0, 13)]);
        assert_eq!(viterbi(&[[0.1, 0.15, 0.75]], &[false]), vec![TAG_B]);
        assert_eq!(viterbi(&[[0.1, 0.8, 0.1]], &[true]), vec![TAG_O]);
    }

    #[test]
    fn touching_spans_of_one_type_merge() {
        // "acute" B, "myeloid" B, "leukemia" I: two spans that touch become one.
        let p = vec![
            0.1, 0.8, 0.1, // acute
            0.1, 0.8, 0.1, // myeloid
            0.1, 0.1, 0.8, // leuk
            0.1, 0.1, 0.8, // ##emia
        ];
        let spans = |merge_adjacent| {
            let o = DecodeOptions {
                merge_adjacent,
                ..DecodeOptions::default()
            };
            decode_sentence(TEXT, &pieces(), &p, 1, &o)
                .iter()
                .map(|s| s.span)
                .collect::<Vec<_>>()
        };
        assert_eq!(spans(false), vec![Span::new(0, 5), Span::new(6, 22)]);
        assert_eq!(spans(true), vec![Span::new(0, 22)]);
    }

    #[test]
    fn spaced_dashes_split_spans() {
        let text = "SAN DIEGO -- Calidi";
        let pieces = Pieces {
            ids: vec![1, 2, 3, 4, 5],
            offsets: vec![(0, 3), (4, 9), (10, 11), (11, 12), (13, 19)],
            words: vec![0, 1, 2, 3, 4],
            shapes: vec![0; 5],
            lex: Vec::new(),
        };
        // The model tags all five words as one entity of type 0.
        let p = probs(&[
            [TAG_B, TAG_O],
            [TAG_I, TAG_O],
            [TAG_I, TAG_O],
            [TAG_I, TAG_O],
            [TAG_I, TAG_O],
        ]);
        let got: Vec<Span> = decode_sentence(text, &pieces, &p, 2, &DecodeOptions::default())
            .iter()
            .map(|s| s.span)
            .collect();
        assert_eq!(got, vec![Span::new(0, 9), Span::new(13, 19)]);
        assert!(is_separator("a \u{2014} b", 2, 5));
        assert!(
            !is_separator("CAR - T", 4, 5),
            "a single spaced hyphen may sit inside a name"
        );
        assert!(is_separator("a -- b", 3, 4));
        assert!(!is_separator("X--Y", 1, 2));
        assert!(!is_separator("CAR-T", 3, 4));
        // Multi-byte whitespace around the run (no-break space).
        assert!(is_separator("a\u{00A0}--\u{00A0}b", 3, 4));
    }

    #[test]
    fn overlaps_keep_the_confident_span() {
        let a = RawSpan {
            span: Span::new(0, 10),
            type_index: 0,
            score: 0.6,
        };
        let b = RawSpan {
            span: Span::new(5, 12),
            type_index: 1,
            score: 0.9,
        };
        let c = RawSpan {
            span: Span::new(12, 14),
            type_index: 0,
            score: 0.5,
        };
        assert_eq!(resolve_overlaps(vec![a, b.clone(), c.clone()]), vec![b, c]);
    }
}
