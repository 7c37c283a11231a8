//! Stage admit: which records of the input stream a run takes. Empty texts are skipped and
//! duplicate ids renamed (`id#2`), both reported as errors; with `--strict` the first bad
//! record stops the run. With `--shard K/N` a run takes every N-th record.

use std::collections::HashSet;
use std::str::FromStr;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::ingest::{DocumentStream, IngestError, Record};
use crate::types::Document;

/// `--shard K/N`: the K-th of N runs (1-based) over the same inputs takes records
/// K, K+N, K+2N, … of the input stream (bad records included, so each is reported once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl FromStr for Shard {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let parsed = s
            .split_once('/')
            .and_then(|(k, n)| Some((k.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) if 1 <= index && index <= count => Ok(Shard { index, count }),
            _ => bail!("--shard takes K/N with 1 <= K <= N (e.g. 2/8), not {s:?}"),
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

fn id_hash(id: &str) -> u64 {
    ahash::RandomState::with_seeds(1, 2, 3, 4).hash_one(id)
}

/// What admission keeps between chunks (and a checkpoint saves).
pub struct Admission {
    pub strict: bool,
    pub shard: Option<Shard>,
    /// Hashes of the document ids seen (to rename duplicates).
    pub seen_ids: HashSet<u64>,
    /// Documents taken from the input stream (processed, empty, renamed or another shard's).
    pub consumed: u64,
    /// Records (documents and errors) read from the input stream, for `--shard`.
    seq: u64,
}

/// Admitted documents and the errors met on the way, in input order.
pub enum Admitted {
    Doc(Document),
    Error(IngestError),
}

impl Admission {
    pub fn new(strict: bool, shard: Option<Shard>) -> Self {
        Admission {
            strict,
            shard,
            seen_ids: HashSet::new(),
            consumed: 0,
            seq: 0,
        }
    }

    /// Restore from a checkpoint.
    pub fn resume(strict: bool, shard: Option<Shard>, seen: Vec<u64>, consumed: u64) -> Self {
        Admission {
            seen_ids: seen.into_iter().collect(),
            consumed,
            ..Admission::new(strict, shard)
        }
    }

    fn ours(&mut self) -> bool {
        let seq = self.seq;
        self.seq += 1;
        self.shard.is_none_or(|s| seq % s.count == s.index - 1)
    }

    /// An error of the input stream: this run's to report (see [`Admission::report`]), or
    /// another shard's.
    pub fn stream_error(&mut self, e: IngestError) -> Result<Option<IngestError>> {
        if self.ours() {
            self.report(e).map(Some)
        } else {
            Ok(None)
        }
    }

    /// An error of this run to report (fatal with `--strict`).
    pub fn report(&self, e: IngestError) -> Result<IngestError> {
        if self.strict {
            bail!("stopped at the first bad record (--strict): {e}");
        }
        tracing::warn!("{e}");
        Ok(e)
    }

    /// Read past the `n` documents a checkpoint covers (their records were written).
    pub fn skip(&mut self, stream: &mut DocumentStream, n: u64) -> Result<()> {
        let mut skipped = 0;
        while skipped < n {
            match stream.next() {
                Some(Record::Doc(_)) => skipped += 1,
                Some(Record::Error(_)) => {}
                None => bail!(
                    "the inputs have fewer documents than the checkpoint (run without --resume)"
                ),
            }
            self.seq += 1;
        }
        Ok(())
    }

    /// Fill `out` with up to `room` documents and the errors met on the way; returns how many
    /// documents.
    pub fn read_chunk(
        &mut self,
        stream: &mut DocumentStream,
        room: usize,
        out: &mut Vec<Admitted>,
    ) -> Result<usize> {
        out.clear();
        let mut docs = 0;
        if room == 0 {
            return Ok(0);
        }
        for record in stream.by_ref() {
            match record {
                Record::Doc(mut d) => {
                    self.consumed += 1;
                    if !self.ours() {
                        continue;
                    }
                    if d.text.trim().is_empty() {
                        let e = IngestError {
                            file: d.source.path.clone(),
                            line: d.source.line,
                            reason: format!("empty text (document {:?} skipped)", d.id),
                        };
                        out.push(Admitted::Error(self.report(e)?));
                        continue;
                    }
                    if !self.seen_ids.insert(id_hash(&d.id)) {
                        let renamed = (2..)
                            .map(|k| format!("{}#{k}", d.id))
                            .find(|r| !self.seen_ids.contains(&id_hash(r)))
                            .expect("some suffix is free");
                        self.seen_ids.insert(id_hash(&renamed));
                        let e = IngestError {
                            file: d.source.path.clone(),
                            line: d.source.line,
                            reason: format!("duplicate doc_id {:?}: kept as {renamed:?}", d.id),
                        };
                        out.push(Admitted::Error(self.report(e)?));
                        d.id = renamed;
                    }
                    out.push(Admitted::Doc(d));
                    docs += 1;
                    if docs == room {
                        break;
                    }
                }
                Record::Error(e) => out.extend(self.stream_error(e)?.map(Admitted::Error)),
            }
        }
        Ok(docs)
    }

    /// Sorted hashes of the ids seen, for a checkpoint.
    pub fn seen_sorted(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.seen_ids.iter().copied().collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_records() {
        assert_eq!(
            "2/8".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 8 }
        );
        for bad in ["0/2", "3/2", "x", "1/0", "1-2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let mut taken = vec![Vec::new(); 3];
        for (k, t) in taken.iter_mut().enumerate() {
            let mut a = Admission::new(
                false,
                Some(Shard {
                    index: k as u64 + 1,
                    count: 3,
                }),
            );
            for i in 0..10 {
                if a.ours() {
                    t.push(i);
                }
            }
        }
        assert_eq!(taken, vec![vec![0, 3, 6, 9], vec![1, 4, 7], vec![2, 5, 8]]);
    }
}
