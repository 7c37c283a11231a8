//! Text decoding (UTF-8, BOM, UTF-16 LE/BE): a document is produced exactly when the bytes
//! decode, and valid UTF-8 without a BOM comes back unchanged.
#![no_main]
use biotable::ingest::{read_bytes, InputKind, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let records = read_bytes(InputKind::Text, "fuzz.txt", data.to_vec());
    assert_eq!(records.len(), 1);
    let utf16 = data.starts_with(&[0xFF, 0xFE]) || data.starts_with(&[0xFE, 0xFF]);
    let bom = data.starts_with(b"\xEF\xBB\xBF");
    if let (Ok(s), false, false) = (std::str::from_utf8(data), utf16, bom) {
        match &records[0] {
            Record::Doc(d) => assert_eq!(d.text, s),
            Record::Error(e) => panic!("valid UTF-8 rejected: {e}"),
        }
    }
});
