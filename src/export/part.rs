//! The part file of a shard run (`extract --shard K/N`): `part.jsonl`, the records
//! `biotable map` would write for the shard's documents, which `biotable merge` reads.

use std::fs::File;
use std::io::BufWriter;

use anyhow::Result;

use super::{Files, Sink, Tables};
use crate::records::{DocumentRecord, ErrorRecord, MentionRecord, RecordWriter};

pub const FILE: &str = "part.jsonl";

pub struct PartSink {
    out: RecordWriter<BufWriter<File>>,
}

impl PartSink {
    pub fn open(files: &mut Files) -> Result<Self> {
        Ok(PartSink {
            out: RecordWriter::new(files.stream(FILE)?),
        })
    }
}

impl Sink for PartSink {
    fn mention(&mut self, row: &MentionRecord) -> Result<()> {
        self.out.write_row("mention", row)
    }

    fn document(&mut self, row: &DocumentRecord) -> Result<()> {
        self.out.write_row("document", row)
    }

    fn error(&mut self, row: &ErrorRecord) -> Result<()> {
        self.out.write_row("error", row)
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush()
    }

    fn finish(mut self: Box<Self>, t: &Tables, _: &mut Files) -> Result<()> {
        self.out.finish_part(t.table, t.run)
    }
}
