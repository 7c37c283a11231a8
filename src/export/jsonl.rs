//! The jsonl family: `mentions.jsonl`, one mention object per line, streamed.

use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::Result;

use super::{Files, Sink, Tables};
use crate::records::MentionRecord;

pub const FILES: [&str; 1] = ["mentions.jsonl"];

pub struct JsonlSink {
    mentions: BufWriter<File>,
}

impl JsonlSink {
    pub fn open(files: &mut Files) -> Result<Self> {
        Ok(JsonlSink {
            mentions: files.stream("mentions.jsonl")?,
        })
    }
}

impl Sink for JsonlSink {
    fn mention(&mut self, row: &MentionRecord) -> Result<()> {
        serde_json::to_writer(&mut self.mentions, row)?;
        self.mentions.write_all(b"\n")?;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        Ok(self.mentions.flush()?)
    }

    fn finish(mut self: Box<Self>, _: &Tables, _: &mut Files) -> Result<()> {
        self.flush()
    }
}
