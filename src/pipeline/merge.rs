//! The merge stage: records in, tables out. Rows of the streamed tables are written as they
//! come; partial tables add up ([`EntityTable::absorb`]); the aggregated tables and the
//! manifest are written at the end. `extract` feeds it the chunks of its map stage;
//! `biotable merge` the parts that `biotable map` or `extract --shard` wrote.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::manifest::{
    mebibytes, Counts, ExtractSummary, Manifest, MemoryReport, ModelInfo, Throughput,
};
use crate::export::{Exporter, Formats};
use crate::profile::{Stage, StageTimes, Timer};
use crate::records::{DocumentRecord, ErrorRecord, MentionRecord, Record, RecordReader, RunRecord};
use crate::table::EntityTable;

/// Rows written so far, the table aggregated so far, and the counts.
pub struct Reducer {
    pub(super) exporter: Exporter,
    pub(super) counts: Counts,
    pub(super) table: EntityTable,
    /// The first few errors, for the one-line summary.
    first_errors: Vec<ErrorRecord>,
}

impl Reducer {
    pub fn new(exporter: Exporter, counts: Counts, table: EntityTable) -> Self {
        Reducer {
            exporter,
            counts,
            table,
            first_errors: Vec::new(),
        }
    }

    pub fn mention(&mut self, r: &MentionRecord) -> Result<()> {
        self.counts.mentions += 1;
        self.counts.linked_mentions += u64::from(r.concept_id.is_some());
        self.exporter.mention(r)
    }

    pub fn document(&mut self, r: &DocumentRecord) -> Result<()> {
        let c = &mut self.counts;
        c.documents += 1;
        c.sentences += r.sentences;
        c.words += r.words;
        c.model_tokens += r.model_tokens;
        self.exporter.document(r)
    }

    pub fn error(&mut self, e: &ErrorRecord) -> Result<()> {
        self.counts.errors += 1;
        if self.first_errors.len() < 3 {
            self.first_errors.push(e.clone());
        }
        self.exporter.error(e)
    }

    /// A row record (mention, document or error).
    pub fn record(&mut self, r: &Record) -> Result<()> {
        match r {
            Record::Mention(m) => self.mention(m),
            Record::Document(d) => self.document(d),
            Record::Error(e) => self.error(e),
            Record::Entity(_) | Record::Pair(_) | Record::Run(_) => {
                unreachable!("partials are absorbed, not written")
            }
        }
    }

    /// Everything a chunk of the map stage gave: its rows in input order, and its table.
    pub fn absorb_chunk(
        &mut self,
        records: &[Record],
        table: EntityTable,
        times: &mut StageTimes,
    ) -> Result<()> {
        let timer = Timer::start();
        for r in records {
            self.record(r)?;
        }
        timer.stop(times, Stage::Write);
        times.time(Stage::Aggregate, || self.table.absorb(table))
    }

    /// Write the aggregated tables and the manifest (`manifest` filled in with counts, time,
    /// memory and stages at the very end).
    pub fn finish(
        self,
        run: &RunRecord,
        manifest: Manifest,
        started: Instant,
        mut times: StageTimes,
    ) -> Result<ExtractSummary> {
        let Reducer {
            exporter,
            mut counts,
            table,
            first_errors,
        } = self;
        table.check_pairs()?;
        let memory = MemoryReport {
            streaming_peak_rss_mib: crate::memory::resident().map(|r| mebibytes(r.peak_bytes)),
            peak_rss_mib: None,
            table_mib: mebibytes(table.heap_bytes() as u64),
        };
        tracing::info!(
            documents = counts.documents,
            entities = table.len(),
            pairs = table.pair_count(),
            table_mib = memory.table_mib,
            "documents done; writing the tables"
        );
        counts.entities = table.len() as u64;
        counts.cooccurrences = table.pair_count() as u64;
        let write_started = Timer::start();
        let (files, manifest) = exporter.finish(&table, run, move || {
            let mut m = manifest;
            write_started.stop(&mut times, Stage::Write);
            let elapsed = started.elapsed().as_secs_f64();
            let per_s = |n: u64| {
                if elapsed > 0.0 {
                    n as f64 / elapsed
                } else {
                    0.0
                }
            };
            m.throughput = Throughput {
                documents_per_second: per_s(counts.documents),
                words_per_second: per_s(counts.words),
                model_tokens_per_second: per_s(counts.model_tokens),
            };
            m.counts = counts;
            m.elapsed_seconds = elapsed;
            m.stages = times.rows();
            m.memory = MemoryReport {
                peak_rss_mib: crate::memory::resident().map(|r| mebibytes(r.peak_bytes)),
                ..memory
            };
            m
        })?;
        Ok(ExtractSummary {
            out: PathBuf::new(),
            files,
            manifest,
            first_errors,
        })
    }
}

/// A manifest with the run's identity; counts, time, memory and stages are filled in by
/// [`Reducer::finish`].
pub(super) fn manifest_for(
    command: &'static str,
    run: &RunRecord,
    model_path: String,
    inputs: Vec<String>,
    files: Vec<String>,
    threads: usize,
) -> Manifest {
    Manifest {
        tool: "biotable",
        version: env!("CARGO_PKG_VERSION"),
        command,
        fingerprint: run.fingerprint.clone(),
        shard: None,
        model: ModelInfo {
            name: run.model.clone(),
            path: model_path,
            description: run.model_description.clone(),
        },
        labels: run.labels.clone(),
        inputs,
        fields: crate::ingest::FieldNames::default(),
        files,
        counts: Counts::default(),
        elapsed_seconds: 0.0,
        throughput: Throughput {
            documents_per_second: 0.0,
            words_per_second: 0.0,
            model_tokens_per_second: 0.0,
        },
        threads,
        batch_tokens: None,
        backend: run.backend,
        backend_note: None,
        memory: MemoryReport {
            streaming_peak_rss_mib: None,
            peak_rss_mib: None,
            table_mib: 0.0,
        },
        stages: Vec::new(),
    }
}

/// Everything `biotable merge` takes.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    /// Map output files (`.jsonl`, `.jsonl.gz`), folders of them (Spark's `part-*` files),
    /// or output folders of `extract --shard` runs (their `part.jsonl`).
    pub parts: Vec<PathBuf>,
    pub out: PathBuf,
    pub formats: Formats,
    /// The documents, for the texts `--format html` shows (the parts do not hold them).
    pub docs: Option<Vec<PathBuf>>,
}

/// The files of the parts, in the order given (a folder's in name order).
fn part_files(parts: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in parts {
        if p.is_dir() {
            let shard_part = p.join(crate::export::part::FILE);
            if shard_part.is_file() {
                files.push(shard_part);
                continue;
            }
            let mut found: Vec<PathBuf> = fs::read_dir(p)
                .with_context(|| format!("cannot read {}", p.display()))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|f| {
                    let name = f
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    f.is_file() && name.starts_with("part-") && !name.ends_with(".crc")
                })
                .collect();
            found.sort();
            if found.is_empty() {
                bail!(
                    "{} holds no part.jsonl (extract --shard) and no part-* files (Spark)",
                    p.display()
                );
            }
            files.extend(found);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            bail!("part {} does not exist", p.display());
        }
    }
    Ok(files)
}

fn open_part(path: &Path) -> Result<Box<dyn BufRead>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(f)))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, f))
    })
}

/// `biotable merge`: the tables of the parts together, as one `extract` run would write them.
pub fn merge(opts: &MergeOptions) -> Result<ExtractSummary> {
    let started = Instant::now();
    let mut times = StageTimes::default();
    let files = part_files(&opts.parts)?;
    let exporter = Exporter::create(&opts.out, opts.formats, false)?;
    let mut reducer = Reducer::new(exporter, Counts::default(), EntityTable::default());
    let mut run: Option<(RunRecord, PathBuf)> = None;
    for path in &files {
        let name = path.display().to_string();
        let mut reader = RecordReader::new(open_part(path)?, name.clone());
        let mut ended = false;
        while let Some(record) = reader.next_record()? {
            if ended {
                bail!(
                    "{name}:{}: records after the run record (two parts in one file?)",
                    reader.line()
                );
            }
            let at = || format!("{name}:{}", reader.line());
            match record {
                r @ (Record::Mention(_) | Record::Document(_) | Record::Error(_)) => {
                    reducer.record(&r)?
                }
                Record::Entity(e) => {
                    let timer = Timer::start();
                    reducer.table.absorb_entity(e).with_context(at)?;
                    timer.stop(&mut times, Stage::Aggregate);
                }
                Record::Pair(p) => reducer.table.absorb_pair(p).with_context(at)?,
                Record::Run(r) => {
                    match &run {
                        None => run = Some((r, path.clone())),
                        Some((first, first_path)) if first.fingerprint != r.fingerprint => bail!(
                            "{} was made with another model or settings than {} ({} {} {} \
                             link={} vs {} {} {} link={}): parts merge only when made alike",
                            name,
                            first_path.display(),
                            r.model,
                            r.version,
                            r.backend,
                            r.link,
                            first.model,
                            first.version,
                            first.backend,
                            first.link,
                        ),
                        Some(_) => {}
                    }
                    ended = true;
                }
            }
        }
        if !ended {
            bail!(
                "{name} does not end with a run record: its map task did not finish (run it again)"
            );
        }
    }
    let Some((run, _)) = run else {
        bail!("no parts to merge");
    };
    let mut manifest = manifest_for(
        "merge",
        &run,
        String::new(),
        files.iter().map(|p| p.display().to_string()).collect(),
        opts.formats.files(false),
        1,
    );
    manifest.model.path = String::new();
    let mut summary = reducer.finish(&run, manifest, started, times)?;
    summary.out = opts.out.clone();
    if opts.formats.html {
        let mut r = crate::report::ReportOptions::new(opts.out.clone());
        r.docs = opts.docs.clone();
        crate::report::write_report(&r)?;
    }
    Ok(summary)
}
