//! Abbreviation detection and matching keys: spans are valid byte ranges holding the strings
//! reported; keys never panic.
#![no_main]
use biotable::normalize::abbrev::{find_abbreviations, AbbreviationMap};
use biotable::normalize::keys::{bag_key, company_key, org_key, term_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    for a in find_abbreviations(text) {
        assert_eq!(&text[a.short_span.start..a.short_span.end], a.short);
        assert_eq!(&text[a.long_span.start..a.long_span.end], a.long);
    }
    let _ = AbbreviationMap::of_text(text).expand(text);
    let _ = bag_key(&term_key(text));
    let _ = company_key(text);
    let _ = org_key(text);
});
