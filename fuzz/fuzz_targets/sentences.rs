//! Sentence splitter: spans are in order, disjoint, inside the text, on char boundaries, and
//! never start or end with whitespace.
#![no_main]
use biotable::segment::split_sentences;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let spans = split_sentences(text);
    let mut last = 0;
    for s in spans {
        assert!(s.start >= last && s.start < s.end && s.end <= text.len());
        assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
        let sentence = &text[s.start..s.end];
        assert_eq!(sentence.trim(), sentence);
        last = s.end;
    }
});
