//! CSV reader: any bytes (missing or extra columns, broken quotes) give documents and errors,
//! never a panic.
#![no_main]
use biotable::ingest::{read_bytes, InputKind, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for r in read_bytes(InputKind::Csv, "fuzz.csv", data.to_vec()) {
        if let Record::Doc(d) = r {
            assert!(!d.id.is_empty());
        }
    }
});
