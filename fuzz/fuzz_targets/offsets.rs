//! Byte → character offsets: CharIndex agrees with counting chars, at every boundary.
#![no_main]
use biotable::CharIndex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let idx = CharIndex::new(text);
    for (ci, (bi, _)) in text.char_indices().enumerate() {
        assert_eq!(idx.char_offset(bi), ci);
    }
    assert_eq!(idx.char_offset(text.len()), text.chars().count());
});
