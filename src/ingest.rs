//! Reading documents: files and folders of `.txt`/`.md` (one document each), `.jsonl` (one per
//! line), `.csv` (one per row), any of them gzip-compressed (`.gz`), or JSONL on stdin (`-`).
//!
//! Documents stream one at a time; a bad record (invalid UTF-8, malformed JSON, a row without
//! text) becomes an [`IngestError`] naming the file and line, and reading goes on.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use crate::types::{DocSource, Document};

/// A record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestError {
    pub file: String,
    pub line: Option<u64>,
    pub reason: String,
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file, l, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

/// What the stream yields.
#[derive(Debug)]
pub enum Record {
    Doc(Document),
    Error(IngestError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Text,
    Jsonl,
    Csv,
}

/// Field names of JSONL objects and CSV columns.
#[derive(Debug, Clone, Serialize)]
pub struct FieldNames {
    pub id: String,
    pub text: String,
}

impl Default for FieldNames {
    fn default() -> Self {
        FieldNames {
            id: "id".into(),
            text: "text".into(),
        }
    }
}

/// One file to read.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// `None` for stdin.
    pub path: Option<PathBuf>,
    /// How the file is named in ids and errors.
    pub display: String,
    pub kind: InputKind,
    pub gzip: bool,
}

/// Classify a path by extension: `(kind, gzip)`, or `None` for files we do not read.
pub fn classify(path: &Path) -> Option<(InputKind, bool)> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let (stem, gzip) = match name.strip_suffix(".gz") {
        Some(s) => (s.to_string(), true),
        None => (name, false),
    };
    let kind = match Path::new(&stem).extension()?.to_str()? {
        "txt" | "md" | "text" | "markdown" => InputKind::Text,
        "jsonl" | "ndjson" => InputKind::Jsonl,
        "csv" => InputKind::Csv,
        _ => return None,
    };
    Some((kind, gzip))
}

/// Expand the command line's inputs into files, folders recursively in sorted order. Problems
/// (missing paths, unreadable folders, unsupported explicit files) come back as errors.
pub fn discover(inputs: &[PathBuf]) -> (Vec<InputFile>, Vec<IngestError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            files.push(InputFile {
                path: None,
                display: "-".into(),
                kind: InputKind::Jsonl,
                gzip: false,
            });
            continue;
        }
        let err = |reason: String| IngestError {
            file: input.display().to_string(),
            line: None,
            reason,
        };
        match std::fs::metadata(input) {
            Err(e) => errors.push(err(format!("cannot read: {e}"))),
            Ok(m) if m.is_dir() => {
                let walker = walkdir::WalkDir::new(input)
                    .follow_links(true)
                    .sort_by_file_name();
                for entry in walker {
                    match entry {
                        Err(e) => errors.push(IngestError {
                            file: e.path().unwrap_or(input).display().to_string(),
                            line: None,
                            reason: format!("cannot read: {e}"),
                        }),
                        Ok(entry) if entry.file_type().is_file() => {
                            if let Some((kind, gzip)) = classify(entry.path()) {
                                let rel = entry.path().strip_prefix(input).unwrap_or(entry.path());
                                files.push(InputFile {
                                    path: Some(entry.path().to_path_buf()),
                                    display: rel.to_string_lossy().replace('\\', "/"),
                                    kind,
                                    gzip,
                                });
                            }
                        }
                        Ok(_) => {}
                    }
                }
            }
            Ok(_) => match classify(input) {
                Some((kind, gzip)) => files.push(InputFile {
                    path: Some(input.clone()),
                    display: input.display().to_string(),
                    kind,
                    gzip,
                }),
                None => errors.push(err(
                    "unsupported file type (expected .txt, .md, .jsonl, .csv, optionally .gz)"
                        .into(),
                )),
            },
        }
    }
    (files, errors)
}

fn open(file: &InputFile) -> io::Result<Box<dyn BufRead + Send>> {
    let raw: Box<dyn Read + Send> = match &file.path {
        None => Box::new(io::stdin()),
        Some(p) => Box::new(File::open(p)?),
    };
    let raw: Box<dyn Read + Send> = if file.gzip {
        Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 16, raw)))
    } else {
        raw
    };
    transcode(BufReader::with_capacity(1 << 16, raw))
}

/// UTF-16 (recognized by its byte-order mark) is transcoded to UTF-8 up front, for every file
/// kind; such files are read whole. Anything else passes through.
fn transcode<R: BufRead + Send + 'static>(mut reader: R) -> io::Result<Box<dyn BufRead + Send>> {
    let head = reader.fill_buf()?;
    let big_endian = match head {
        [0xFF, 0xFE, ..] => Some(false),
        [0xFE, 0xFF, ..] => Some(true),
        _ => None,
    };
    if let Some(be) = big_endian {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes)?;
        let text = decode_utf16(&bytes[2..], be)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        return Ok(Box::new(io::Cursor::new(text.into_bytes())));
    }
    Ok(Box::new(reader))
}

fn decode_utf16(bytes: &[u8], big_endian: bool) -> Result<String, String> {
    if !bytes.len().is_multiple_of(2) {
        return Err("UTF-16 text with an odd number of bytes (truncated file?)".into());
    }
    let units = bytes.chunks_exact(2).map(|b| {
        if big_endian {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        }
    });
    char::decode_utf16(units)
        .enumerate()
        .map(|(i, c)| {
            c.map_err(|_| format!("invalid UTF-16 (unpaired surrogate at code unit {i})"))
        })
        .collect()
}

/// Decode bytes as UTF-8, dropping a leading byte-order mark.
fn decode_utf8(bytes: Vec<u8>) -> Result<String, String> {
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "invalid UTF-8 at byte {} (convert the file to UTF-8)",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Streams documents from a list of files, one record at a time.
pub struct DocumentStream {
    files: VecDeque<InputFile>,
    current: Option<Box<dyn Iterator<Item = Record> + Send>>,
    fields: FieldNames,
}

impl DocumentStream {
    pub fn new(files: Vec<InputFile>, fields: FieldNames) -> Self {
        DocumentStream {
            files: files.into(),
            current: None,
            fields,
        }
    }

    fn open_next(&mut self) -> Option<Box<dyn Iterator<Item = Record> + Send>> {
        let file = self.files.pop_front()?;
        let reader = match open(&file) {
            Ok(r) => r,
            Err(e) => {
                return Some(Box::new(std::iter::once(Record::Error(IngestError {
                    file: file.display.clone(),
                    line: None,
                    reason: format!("cannot open: {e}"),
                }))))
            }
        };
        Some(records(file, reader, &self.fields))
    }
}

fn records(
    file: InputFile,
    reader: Box<dyn BufRead + Send>,
    fields: &FieldNames,
) -> Box<dyn Iterator<Item = Record> + Send> {
    match file.kind {
        InputKind::Text => Box::new(std::iter::once(read_text(&file, reader))),
        InputKind::Jsonl => Box::new(JsonlRecords {
            reader,
            file,
            line: 0,
            fields: fields.clone(),
            done: false,
        }),
        InputKind::Csv => csv_records(file, reader, fields),
    }
}

/// Read one in-memory file of the given kind (the fuzz targets' entry point): the same code
/// path as files on disk, after decompression.
pub fn read_bytes(kind: InputKind, name: &str, bytes: Vec<u8>) -> Vec<Record> {
    let file = InputFile {
        path: None,
        display: name.to_string(),
        kind,
        gzip: false,
    };
    match transcode(io::Cursor::new(bytes)) {
        Ok(reader) => records(file, reader, &FieldNames::default()).collect(),
        Err(e) => vec![Record::Error(IngestError {
            file: name.to_string(),
            line: None,
            reason: format!("cannot open: {e}"),
        })],
    }
}

impl Iterator for DocumentStream {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        loop {
            if let Some(it) = self.current.as_mut() {
                if let Some(r) = it.next() {
                    return Some(r);
                }
            }
            self.current = Some(self.open_next()?);
        }
    }
}

fn read_text(file: &InputFile, mut reader: Box<dyn BufRead + Send>) -> Record {
    let mut bytes = Vec::new();
    let err = |reason: String| {
        Record::Error(IngestError {
            file: file.display.clone(),
            line: None,
            reason,
        })
    };
    if let Err(e) = reader.read_to_end(&mut bytes) {
        return err(format!("cannot read: {e}"));
    }
    match decode_utf8(bytes) {
        Ok(text) => Record::Doc(Document {
            id: file.display.clone(),
            source: DocSource {
                path: file.display.clone(),
                line: None,
            },
            text,
        }),
        Err(reason) => err(reason),
    }
}

struct JsonlRecords {
    reader: Box<dyn BufRead + Send>,
    file: InputFile,
    line: u64,
    fields: FieldNames,
    done: bool,
}

impl Iterator for JsonlRecords {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        loop {
            if self.done {
                return None;
            }
            let mut buf = Vec::new();
            self.line += 1;
            let err = |line: u64, reason: String| {
                Some(Record::Error(IngestError {
                    file: self.file.display.clone(),
                    line: Some(line),
                    reason,
                }))
            };
            match self.reader.read_until(b'\n', &mut buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return err(self.line, format!("cannot read: {e}"));
                }
            }
            let line = match decode_utf8(buf) {
                Ok(l) => l,
                Err(reason) => return err(self.line, reason),
            };
            if line.trim().is_empty() {
                continue;
            }
            let value: serde_json::Value = match serde_json::from_str(&line) {
                Ok(v) => v,
                Err(e) => return err(self.line, format!("malformed JSON: {e}")),
            };
            let source = DocSource {
                path: self.file.display.clone(),
                line: Some(self.line),
            };
            return Some(match json_document(&value, &self.fields, source) {
                Ok(doc) => Record::Doc(doc),
                Err(reason) => Record::Error(IngestError {
                    file: self.file.display.clone(),
                    line: Some(self.line),
                    reason,
                }),
            });
        }
    }
}

fn json_document(
    value: &serde_json::Value,
    fields: &FieldNames,
    source: DocSource,
) -> Result<Document, String> {
    let obj = value.as_object().ok_or("expected a JSON object")?;
    let text = match obj.get(&fields.text) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(format!(
                "field {:?} is not a string (found {})",
                fields.text,
                json_type(other)
            ))
        }
        None => return Err(format!("no {:?} field", fields.text)),
    };
    let id = match obj.get(&fields.id) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => source.to_string(),
    };
    Ok(Document { id, source, text })
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn csv_records(
    file: InputFile,
    reader: Box<dyn BufRead + Send>,
    fields: &FieldNames,
) -> Box<dyn Iterator<Item = Record> + Send> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let display = file.display.clone();
    let fail =
        move |line: Option<u64>, reason: String| -> Box<dyn Iterator<Item = Record> + Send> {
            Box::new(std::iter::once(Record::Error(IngestError {
                file: display.clone(),
                line,
                reason,
            })))
        };
    let headers = match rdr.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => return fail(Some(1), format!("cannot read CSV header: {e}")),
    };
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(h) == name.as_bytes())
    };
    let Some(text_col) = col(&fields.text) else {
        return fail(
            Some(1),
            format!("CSV header has no {:?} column", fields.text),
        );
    };
    let id_col = col(&fields.id);
    let text_field = fields.text.clone();
    let display = file.display.clone();
    Box::new(rdr.into_byte_records().map(move |row| {
        let err = |line: Option<u64>, reason: String| {
            Record::Error(IngestError {
                file: display.clone(),
                line,
                reason,
            })
        };
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line());
                return err(line, format!("malformed CSV: {e}"));
            }
        };
        let line = row.position().map(|p| p.line());
        let Some(text) = row.get(text_col) else {
            return err(line, format!("row has no {text_field:?} column"));
        };
        let text = match decode_utf8(text.to_vec()) {
            Ok(t) => t,
            Err(reason) => return err(line, reason),
        };
        let source = DocSource {
            path: display.clone(),
            line,
        };
        let id = match id_col.and_then(|c| row.get(c)) {
            Some(id) if !id.is_empty() => String::from_utf8_lossy(id).into_owned(),
            _ => source.to_string(),
        };
        Record::Doc(Document { id, source, text })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(path: &Path) -> Vec<Record> {
        let (files, errors) = discover(&[path.to_path_buf()]);
        assert!(errors.is_empty(), "{errors:?}");
        DocumentStream::new(files, FieldNames::default()).collect()
    }

    fn docs(records: &[Record]) -> Vec<(&str, &str)> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::Doc(d) => Some((d.id.as_str(), d.text.as_str())),
                Record::Error(_) => None,
            })
            .collect()
    }

    fn errors(records: &[Record]) -> Vec<&IngestError> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::Error(e) => Some(e),
                Record::Doc(_) => None,
            })
            .collect()
    }

    #[test]
    fn utf16_files_are_transcoded() {
        let dir = tempfile::tempdir().unwrap();
        let text = "Acute myeloid leukaemia (AML) — 白血病 😀";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        std::fs::write(dir.path().join("le.txt"), &le).unwrap();
        let mut be = vec![0xFE, 0xFF];
        let jsonl = format!("{{\"id\": \"j\", \"text\": \"{text}\"}}\n");
        be.extend(jsonl.encode_utf16().flat_map(|u| u.to_be_bytes()));
        std::fs::write(dir.path().join("be.jsonl"), &be).unwrap();
        std::fs::write(dir.path().join("odd.txt"), [0xFF, 0xFE, 0x41]).unwrap();
        let records = read_all(dir.path());
        assert_eq!(docs(&records), vec![("j", text), ("le.txt", text)]);
        let errs = errors(&records);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].file, "odd.txt");
        assert!(errs[0].reason.contains("UTF-16"), "{}", errs[0].reason);
    }

    #[test]
    fn folders_are_recursive_sorted_and_relative() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("b/two.md"), "Two").unwrap();
        std::fs::write(dir.path().join("a.txt"), "\u{FEFF}One").unwrap();
        std::fs::write(dir.path().join("notes.ann"), "skipped").unwrap();
        let recs = read_all(dir.path());
        assert_eq!(docs(&recs), vec![("a.txt", "One"), ("b/two.md", "Two")]);
    }

    #[test]
    fn jsonl_with_bad_lines_keeps_the_good_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("docs.jsonl");
        let mut f = File::create(&p).unwrap();
        f.write_all(b"{\"id\": \"d1\", \"text\": \"Fine.\"}\n{oops\n\n{\"id\": 7, \"text\": 3}\n{\"text\": \"No id.\"}\n\xff\xfe\n").unwrap();
        let recs = read_all(&p);
        let name = p.display().to_string();
        assert_eq!(
            docs(&recs),
            vec![("d1", "Fine."), (format!("{name}:5").as_str(), "No id.")]
        );
        let errs = errors(&recs);
        assert_eq!(
            errs.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![Some(2), Some(4), Some(6)]
        );
        assert!(errs[0].reason.contains("malformed JSON"));
        assert!(errs[1].reason.contains("not a string"));
        assert!(errs[2].reason.contains("invalid UTF-8"));
    }

    #[test]
    fn csv_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("docs.csv.gz");
        let mut gz =
            flate2::write::GzEncoder::new(File::create(&p).unwrap(), flate2::Compression::fast());
        gz.write_all(b"id,text\nx1,\"Hello, world.\"\nx2\nx3,\"Line one\nline two\"\n")
            .unwrap();
        gz.finish().unwrap();
        let recs = read_all(&p);
        assert_eq!(
            docs(&recs),
            vec![("x1", "Hello, world."), ("x3", "Line one\nline two")]
        );
        let errs = errors(&recs);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, Some(3));
    }

    #[test]
    fn csv_without_text_column_is_one_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("docs.csv");
        std::fs::write(&p, "id,body\n1,hello\n").unwrap();
        let recs = read_all(&p);
        let errs = errors(&recs);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].reason.contains("no \"text\" column"));
    }

    #[test]
    fn custom_field_names() {
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("a.csv");
        std::fs::write(&csv_path, "pmid,body\n11,Hello.\n12\n").unwrap();
        let jsonl_path = dir.path().join("b.jsonl");
        std::fs::write(&jsonl_path, "{\"pmid\": \"21\", \"body\": \"Hi.\"}\n").unwrap();
        let fields = FieldNames {
            id: "pmid".into(),
            text: "body".into(),
        };
        let (files, _) = discover(&[csv_path, jsonl_path]);
        let recs: Vec<Record> = DocumentStream::new(files, fields).collect();
        assert_eq!(docs(&recs), vec![("11", "Hello."), ("21", "Hi.")]);
        let errs = errors(&recs);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].reason, "row has no \"body\" column");
    }

    #[test]
    fn missing_and_unsupported_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("x.pdf");
        std::fs::write(&odd, "%PDF").unwrap();
        let (files, errors) = discover(&[dir.path().join("nope"), odd]);
        assert!(files.is_empty());
        assert_eq!(errors.len(), 2);
        assert!(errors[0].reason.contains("cannot read"));
        assert!(errors[1].reason.contains("unsupported file type"));
    }
}
