//! The typed records a run produces: one per mention, document and bad record as documents
//! stream, then the partial aggregates (entities, pairs) and a `run` record at the end.
//!
//! `biotable map` writes them as JSONL, one per line, `{"kind": "mention", …}`;
//! `biotable merge` reads them back; `extract` passes them from its map stage to its merge
//! stage in memory. The row records are also the rows of the streamed tables (mentions,
//! documents, errors), in every output format.

use std::io::{BufRead, Write};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

pub use crate::ingest::IngestError as ErrorRecord;
use crate::ner::Engine;
use crate::normalize::lexicon::Ontology;
use crate::table::{EntityPartial, EntityTable, PairPartial};
use crate::types::{EntityId, EntityLabel};

/// One row of the mentions table. The label is the normalized one; concept fields are empty
/// when the mention is not linked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MentionRecord {
    pub doc_id: String,
    /// Character offsets (Unicode scalar values), end exclusive.
    pub start: u64,
    pub end: u64,
    pub text: String,
    pub label: EntityLabel,
    pub score: f64,
    /// 0-based sentence index in the document.
    pub sentence: u64,
    pub entity_id: EntityId,
    pub concept_id: Option<String>,
    pub concept_name: Option<String>,
    pub ontology: Option<Ontology>,
    pub link_score: Option<f64>,
}

/// One row of the documents table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentRecord {
    pub doc_id: String,
    /// File and line it was read from.
    pub source: String,
    pub chars: u64,
    /// Whitespace-separated words.
    pub words: u64,
    pub sentences: u64,
    pub mentions: u64,
    /// Word pieces the model read (windows and special tokens included).
    pub model_tokens: u64,
}

/// The model and settings a part was made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Model contents, labels, linking and engine, hashed: parts merge only when equal.
    pub fingerprint: String,
    pub version: String,
    pub model: String,
    pub model_description: String,
    pub labels: Vec<EntityLabel>,
    pub backend: Engine,
    pub link: bool,
}

/// One line of `biotable map`'s output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Record {
    Mention(MentionRecord),
    Document(DocumentRecord),
    Error(ErrorRecord),
    Entity(EntityPartial),
    Pair(PairPartial),
    Run(RunRecord),
}

/// Writes records as JSONL.
pub struct RecordWriter<W: Write> {
    out: W,
}

impl<W: Write> RecordWriter<W> {
    pub fn new(out: W) -> Self {
        RecordWriter { out }
    }

    pub fn write(&mut self, r: &Record) -> Result<()> {
        serde_json::to_writer(&mut self.out, r)?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    /// A record of `kind` from a borrowed row: the line [`RecordWriter::write`] writes for
    /// the same record, without making one.
    pub fn write_row<T: Serialize>(&mut self, kind: &'static str, row: &T) -> Result<()> {
        serde_json::to_writer(&mut self.out, &Tagged(kind, row))?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    /// The end of a part: its entities and pairs (sorted by id), then the run record.
    pub fn finish_part(&mut self, table: &EntityTable, run: &RunRecord) -> Result<()> {
        for e in table.partials() {
            self.write_row("entity", e)?;
        }
        for p in table.pair_partials() {
            self.write_row("pair", p)?;
        }
        self.write(&Record::Run(run.clone()))?;
        self.out.flush()?;
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        Ok(self.out.flush()?)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A borrowed record with its kind (what `Record` writes, without cloning the partial).
struct Tagged<'a, T>(&'static str, &'a T);

impl<T: Serialize> Serialize for Tagged<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a, T> {
            kind: &'static str,
            #[serde(flatten)]
            inner: &'a T,
        }
        Out {
            kind: self.0,
            inner: self.1,
        }
        .serialize(s)
    }
}

/// Reads records from JSONL, naming the part and line of anything that is not one.
pub struct RecordReader<R: BufRead> {
    input: R,
    name: String,
    line: u64,
    buf: String,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(input: R, name: impl Into<String>) -> Self {
        RecordReader {
            input,
            name: name.into(),
            line: 0,
            buf: String::new(),
        }
    }

    /// The next record, `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        loop {
            self.buf.clear();
            let n = self
                .input
                .read_line(&mut self.buf)
                .with_context(|| format!("{}:{}: cannot read", self.name, self.line + 1))?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            let line = self.buf.trim_end();
            if line.is_empty() {
                continue;
            }
            return match serde_json::from_str(line) {
                Ok(r) => Ok(Some(r)),
                Err(e) => bail!(
                    "{}:{}: not a biotable map record ({e}); parts are what `biotable map` or \
                     `extract --shard` wrote",
                    self.name,
                    self.line
                ),
            };
        }
    }

    pub fn line(&self) -> u64 {
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_with_their_kind() {
        let m = Record::Mention(MentionRecord {
            doc_id: "d1".into(),
            start: 3,
            end: 7,
            text: "gout".into(),
            label: EntityLabel::Disease,
            score: 0.9876,
            sentence: 0,
            entity_id: EntityId::of_key("DISEASE:gout"),
            concept_id: None,
            concept_name: None,
            ontology: None,
            link_score: None,
        });
        let json = serde_json::to_string(&m).unwrap();
        assert!(
            json.starts_with(r#"{"kind":"mention","doc_id":"d1""#),
            "{json}"
        );
        let back: Record = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        let e = Record::Error(ErrorRecord {
            file: "-".into(),
            line: Some(4),
            reason: "bad JSON".into(),
        });
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), e);
        // A borrowed row writes the same line.
        let mut w = RecordWriter::new(Vec::new());
        if let Record::Mention(row) = &m {
            w.write_row("mention", row).unwrap();
        }
        let mut line = serde_json::to_string(&m).unwrap();
        line.push('\n');
        assert_eq!(String::from_utf8(w.into_inner()).unwrap(), line);
    }

    #[test]
    fn a_part_ends_with_partials_and_the_run() {
        let mut t = EntityTable::default();
        let a = t
            .add(
                crate::table::MentionEntity {
                    key: "DISEASE:gout",
                    label: EntityLabel::Disease,
                    name: "gout",
                    concept: None,
                    surface: "Gout",
                },
                0,
                "d1",
            )
            .unwrap();
        let b = t
            .add(
                crate::table::MentionEntity {
                    key: "COMPANY:acme",
                    label: EntityLabel::Company,
                    name: "acme",
                    concept: None,
                    surface: "Acme",
                },
                0,
                "d1",
            )
            .unwrap();
        t.add_sentence(&[a, b], 0, "d1");
        let run = RunRecord {
            fingerprint: "f".into(),
            version: "0".into(),
            model: "m".into(),
            model_description: String::new(),
            labels: vec![EntityLabel::Disease],
            backend: Engine::Mock,
            link: false,
        };
        let mut w = RecordWriter::new(Vec::new());
        w.finish_part(&t, &run).unwrap();
        let bytes = w.into_inner();
        let mut r = RecordReader::new(&bytes[..], "part");
        let mut kinds = Vec::new();
        let mut back = EntityTable::default();
        while let Some(rec) = r.next_record().unwrap() {
            match rec {
                Record::Entity(e) => {
                    kinds.push("entity");
                    back.absorb_entity(e).unwrap();
                }
                Record::Pair(p) => {
                    kinds.push("pair");
                    back.absorb_pair(p).unwrap();
                }
                Record::Run(got) => {
                    kinds.push("run");
                    assert_eq!(got, run);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(kinds, ["entity", "entity", "pair", "run"]);
        assert_eq!(back.rows(), t.rows());
        assert_eq!(back.pair_rows(), t.pair_rows());
        let err = RecordReader::new(&b"{\"kind\":\"mention\"}\n"[..], "p.jsonl")
            .next_record()
            .unwrap_err();
        assert!(
            err.to_string().starts_with("p.jsonl:1: not a biotable"),
            "{err}"
        );
    }
}
