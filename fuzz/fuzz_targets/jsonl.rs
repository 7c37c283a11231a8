//! JSONL reader: any bytes give documents and errors, never a panic; every error names a line.
#![no_main]
use biotable::ingest::{read_bytes, InputKind, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for r in read_bytes(InputKind::Jsonl, "fuzz.jsonl", data.to_vec()) {
        match r {
            Record::Doc(d) => assert!(d.source.line.is_some()),
            Record::Error(e) => assert!(e.line.is_some() || e.reason.starts_with("cannot")),
        }
    }
});
