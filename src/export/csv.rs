//! The csv family: streamed `mentions.csv`, `documents.csv`, `errors.csv`; `entities.csv` and
//! `cooccurrences.csv` at the end. Lists are `a; b` cells.

use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::Result;
use serde::Serialize;

use super::{
    attributes_of, concept_of, xrefs_of, EntityOut, Files, Sink, Tables, COOCCURRENCE_COLUMNS,
    DOCUMENT_COLUMNS, ENTITY_COLUMNS, ERROR_COLUMNS, MENTION_COLUMNS,
};
use crate::records::{DocumentRecord, ErrorRecord, MentionRecord};
use crate::types::{EntityId, EntityLabel};

pub const FILES: [&str; 5] = [
    "mentions.csv",
    "entities.csv",
    "cooccurrences.csv",
    "documents.csv",
    "errors.csv",
];

type Writer = csv::Writer<BufWriter<File>>;

pub struct CsvSink {
    mentions: Writer,
    documents: Writer,
    errors: Writer,
}

/// A CSV writer whose header is written up front (so that empty tables have one), unless
/// the file is resumed.
fn with_header(w: BufWriter<File>, header: &[&str], resuming: bool) -> Result<Writer> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(w);
    if !resuming {
        w.write_record(header)?;
    }
    Ok(w)
}

/// Flush a CSV writer and the file under it.
fn close(w: Writer) -> Result<()> {
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("flushing: {e}"))?
        .flush()?;
    Ok(())
}

impl CsvSink {
    pub fn open(files: &mut Files) -> Result<Self> {
        let r = files.resuming();
        Ok(CsvSink {
            mentions: with_header(files.stream("mentions.csv")?, MENTION_COLUMNS, r)?,
            documents: with_header(files.stream("documents.csv")?, DOCUMENT_COLUMNS, r)?,
            errors: with_header(files.stream("errors.csv")?, ERROR_COLUMNS, r)?,
        })
    }
}

#[derive(Serialize)]
struct PairOut<'a> {
    entity_a: EntityId,
    label_a: EntityLabel,
    name_a: &'a str,
    entity_b: EntityId,
    label_b: EntityLabel,
    name_b: &'a str,
    sentence_count: u64,
    document_count: u64,
    example_doc_ids: String,
}

impl Sink for CsvSink {
    fn mention(&mut self, row: &MentionRecord) -> Result<()> {
        Ok(self.mentions.serialize(row)?)
    }

    fn document(&mut self, row: &DocumentRecord) -> Result<()> {
        Ok(self.documents.serialize(row)?)
    }

    fn error(&mut self, e: &ErrorRecord) -> Result<()> {
        let line = e.line.map(|l| l.to_string()).unwrap_or_default();
        Ok(self
            .errors
            .write_record([e.file.as_str(), line.as_str(), e.reason.as_str()])?)
    }

    fn flush(&mut self) -> Result<()> {
        self.mentions.flush()?;
        self.documents.flush()?;
        self.errors.flush()?;
        Ok(())
    }

    fn finish(self: Box<Self>, t: &Tables, files: &mut Files) -> Result<()> {
        let CsvSink {
            mentions,
            documents,
            errors,
        } = *self;
        for w in [mentions, documents, errors] {
            close(w)?;
        }
        let mut w = with_header(files.create("entities.csv")?, ENTITY_COLUMNS, false)?;
        for e in t.entities {
            let (concept_id, ontology) = concept_of(e);
            let forms: Vec<String> = e
                .surface_forms
                .iter()
                .map(|(s, n)| format!("{s} ({n})"))
                .collect();
            let attrs: Vec<String> = attributes_of(e)
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            w.serialize(EntityOut {
                entity_id: e.entity_id,
                label: e.label,
                name: e.name,
                concept_id,
                ontology,
                xrefs: xrefs_of(e).join("; "),
                attributes: attrs.join("; "),
                mention_count: e.mention_count,
                document_count: e.document_count,
                surface_forms: forms.join("; "),
                example_doc_ids: e.example_doc_ids.join("; "),
            })?;
        }
        close(w)?;
        let mut w = with_header(
            files.create("cooccurrences.csv")?,
            COOCCURRENCE_COLUMNS,
            false,
        )?;
        for p in t.pairs {
            let (a, b) = (t.entity(p.a), t.entity(p.b));
            w.serialize(PairOut {
                entity_a: a.entity_id,
                label_a: a.label,
                name_a: a.name,
                entity_b: b.entity_id,
                label_b: b.label,
                name_b: b.name,
                sentence_count: p.sentence_count,
                document_count: p.document_count,
                example_doc_ids: p.example_doc_ids.join("; "),
            })?;
        }
        close(w)
    }
}
