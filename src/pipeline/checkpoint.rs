//! `--resume`: the checkpoint an unfinished run keeps in its output folder.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::manifest::Counts;
use crate::export::StreamLengths;
use crate::table::EntityTable;

/// The checkpoint file in the output folder, present only while a run is unfinished.
pub const CHECKPOINT: &str = "checkpoint.json";

/// What `--resume` needs to go on exactly where a run stopped. `T` is the table: borrowed
/// when writing (no copy of it is made), owned when reading.
#[derive(Serialize, Deserialize)]
pub(super) struct Checkpoint<T> {
    /// The arguments that shape the output; a resume must use the same.
    pub fingerprint: String,
    /// Documents taken from the input stream (processed, empty or renamed).
    pub consumed: u64,
    pub counts: Counts,
    pub streams: StreamLengths,
    pub table: T,
    /// Hashes of the document ids seen (to rename duplicates).
    pub seen_ids: Vec<u64>,
}

pub(super) fn read_checkpoint(
    path: &Path,
    fingerprint: &str,
) -> Result<Option<Checkpoint<EntityTable>>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "biotable: no checkpoint in {} (nothing to resume); starting from the beginning",
                path.parent().unwrap_or(path).display()
            );
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let c: Checkpoint<EntityTable> = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is damaged (run without --resume)", path.display()))?;
    if c.fingerprint != fingerprint {
        bail!(
            "the checkpoint in {} was made with other arguments (inputs, model, formats, fields, \
             --limit or --no-link); resume with the same ones, or run without --resume",
            path.parent().unwrap_or(path).display()
        );
    }
    Ok(Some(c))
}

/// Written under a temporary name and renamed: a kill leaves the old or the new checkpoint.
pub(super) fn write_checkpoint(path: &Path, c: &Checkpoint<&EntityTable>) -> Result<()> {
    crate::fsutil::replace_with(path, |tmp| {
        let mut w = std::io::BufWriter::new(fs::File::create(tmp)?);
        serde_json::to_writer(&mut w, c)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_data()?;
        Ok(())
    })
}
