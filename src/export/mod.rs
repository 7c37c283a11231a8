//! Writing the tables. Every file is written under a `.partial` name and renamed when the run
//! completes, so a crash never leaves a table that looks finished but is not.
//!
//! Each output family is one [`Sink`] (as ripgrep's printers are): rows of the streamed
//! tables go to every sink as documents finish, the aggregated tables at the end.
//! - csv ([`csv`]): `mentions.csv`, `entities.csv`, `cooccurrences.csv`, `documents.csv`,
//!   `errors.csv`
//! - jsonl ([`jsonl`]): `mentions.jsonl`
//! - json ([`json`]): `entities.json`, `knowledge.json` (entities as nodes, co-occurrences as
//!   links, in the node-link format that `networkx.node_link_graph` reads)
//! - parquet ([`parquet`]): `mentions.parquet`, `entities.parquet`, `cooccurrences.parquet`,
//!   `documents.parquet`, `errors.parquet`, with typed columns
//! - the part file of a shard run ([`part`]): `part.jsonl`, what `biotable merge` reads

pub mod csv;
pub mod json;
pub mod jsonl;
pub mod parquet;
pub mod part;

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::records::{DocumentRecord, ErrorRecord, MentionRecord, RunRecord};
use crate::table::{ConceptInfo, EntityRow, EntityTable, PairRow};
use crate::types::EntityId;

/// Which output families to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Formats {
    pub csv: bool,
    pub jsonl: bool,
    pub json: bool,
    pub parquet: bool,
    /// `report.html` (see [`crate::report`]); it reads the csv tables, so it implies csv.
    pub html: bool,
}

impl Default for Formats {
    fn default() -> Self {
        Formats {
            csv: true,
            jsonl: true,
            json: true,
            parquet: false,
            html: false,
        }
    }
}

impl FromStr for Formats {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let mut f = Formats {
            csv: false,
            jsonl: false,
            json: false,
            parquet: false,
            html: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "csv" => f.csv = true,
                "jsonl" => f.jsonl = true,
                "json" => f.json = true,
                "parquet" => f.parquet = true,
                "html" => {
                    f.html = true;
                    f.csv = true;
                }
                other => {
                    bail!("unknown format {other:?} (expected csv, jsonl, json, parquet, html)")
                }
            }
        }
        if !(f.csv || f.jsonl || f.json || f.parquet) {
            bail!("--format needs at least one of csv, jsonl, json, parquet, html");
        }
        Ok(f)
    }
}

impl Formats {
    /// The files these formats write (`manifest.json` always).
    pub fn files(&self, part: bool) -> Vec<String> {
        let mut v = Vec::new();
        if self.csv {
            v.extend(csv::FILES);
        }
        if self.jsonl {
            v.extend(jsonl::FILES);
        }
        if self.json {
            v.extend(json::FILES);
        }
        if self.parquet {
            v.extend(parquet::FILES);
        }
        if part {
            v.push(part::FILE);
        }
        v.push("manifest.json");
        if self.html {
            v.push(crate::report::FILE);
        }
        v.into_iter().map(String::from).collect()
    }
}

/// Every file a run may write (removed at the start of a fresh run).
pub fn all_outputs() -> Vec<&'static str> {
    let mut v: Vec<&str> = Vec::new();
    v.extend(csv::FILES);
    v.extend(jsonl::FILES);
    v.extend(json::FILES);
    v.extend(parquet::FILES);
    v.push(part::FILE);
    v.push("manifest.json");
    v.push(crate::report::FILE);
    v
}

pub const MENTION_COLUMNS: &[&str] = &[
    "doc_id",
    "start",
    "end",
    "text",
    "label",
    "score",
    "sentence",
    "entity_id",
    "concept_id",
    "concept_name",
    "ontology",
    "link_score",
];
pub const DOCUMENT_COLUMNS: &[&str] = &[
    "doc_id",
    "source",
    "chars",
    "words",
    "sentences",
    "mentions",
    "model_tokens",
];
pub const ERROR_COLUMNS: &[&str] = &["file", "line", "reason"];
pub const ENTITY_COLUMNS: &[&str] = &[
    "entity_id",
    "label",
    "name",
    "concept_id",
    "ontology",
    "xrefs",
    "attributes",
    "mention_count",
    "document_count",
    "surface_forms",
    "example_doc_ids",
];
pub const COOCCURRENCE_COLUMNS: &[&str] = &[
    "entity_a",
    "label_a",
    "name_a",
    "entity_b",
    "label_b",
    "name_b",
    "sentence_count",
    "document_count",
    "example_doc_ids",
];

/// Scores are written with 4 decimals: enough to rank, and stable across thread counts.
pub fn round4(x: f32) -> f64 {
    (x as f64 * 10_000.0).round() / 10_000.0
}

/// A row of the entity tables; `L`, `A` and `F` are how lists, attributes and surface forms
/// are written: one `a; b` cell each in entities.csv, JSON lists and objects in entities.json.
#[derive(Serialize)]
struct EntityOut<'a, L: Serialize, A: Serialize, F: Serialize> {
    entity_id: EntityId,
    label: crate::types::EntityLabel,
    name: &'a str,
    concept_id: Option<&'a str>,
    ontology: Option<crate::normalize::lexicon::Ontology>,
    xrefs: L,
    attributes: A,
    mention_count: u64,
    document_count: u64,
    surface_forms: F,
    example_doc_ids: L,
}

fn concept_of<'a>(
    e: &EntityRow<'a>,
) -> (Option<&'a str>, Option<crate::normalize::lexicon::Ontology>) {
    let c: Option<&ConceptInfo> = e.concept;
    (c.map(|c| c.concept_id.as_str()), c.map(|c| c.ontology))
}

fn xrefs_of<'a>(e: &EntityRow<'a>) -> &'a [String] {
    e.concept.map_or(&[], |c| c.xrefs.as_slice())
}

fn attributes_of<'a>(e: &EntityRow<'a>) -> &'a [(String, String)] {
    e.concept.map_or(&[], |c| c.attributes.as_slice())
}

/// What the sinks write at the end.
pub struct Tables<'a> {
    /// Rows sorted as they are written.
    pub entities: &'a [EntityRow<'a>],
    pub pairs: &'a [PairRow<'a>],
    /// The partial aggregates (for part files).
    pub table: &'a EntityTable,
    pub run: &'a RunRecord,
    by_id: HashMap<EntityId, &'a EntityRow<'a>>,
}

impl<'a> Tables<'a> {
    pub fn new(
        entities: &'a [EntityRow<'a>],
        pairs: &'a [PairRow<'a>],
        table: &'a EntityTable,
        run: &'a RunRecord,
    ) -> Self {
        Tables {
            entities,
            pairs,
            table,
            run,
            by_id: entities.iter().map(|e| (e.entity_id, e)).collect(),
        }
    }

    /// The row of an entity a pair refers to.
    pub fn entity(&self, id: EntityId) -> &'a EntityRow<'a> {
        self.by_id[&id]
    }
}

/// One output family.
pub trait Sink {
    fn mention(&mut self, _row: &MentionRecord) -> Result<()> {
        Ok(())
    }
    fn document(&mut self, _row: &DocumentRecord) -> Result<()> {
        Ok(())
    }
    fn error(&mut self, _row: &ErrorRecord) -> Result<()> {
        Ok(())
    }
    /// Push streamed rows to the files (before a checkpoint records their lengths).
    fn flush(&mut self) -> Result<()>;
    /// Close the streams and write the aggregated tables.
    fn finish(self: Box<Self>, tables: &Tables, files: &mut Files) -> Result<()>;
}

/// Lengths of the files that grow while documents stream, as a checkpoint records them.
pub type StreamLengths = BTreeMap<String, u64>;

/// A file written under `NAME.partial` and renamed to `NAME` by [`Files::commit`].
struct Pending {
    name: String,
    tmp: PathBuf,
    path: PathBuf,
}

/// The files of one output folder: streamed ones (resumable from a checkpoint) and ones
/// written at the end; all renamed into place together.
pub struct Files {
    dir: PathBuf,
    resume: Option<StreamLengths>,
    pending: Vec<Pending>,
}

impl Files {
    fn pending(&self, name: &str) -> Pending {
        Pending {
            name: name.to_string(),
            tmp: self.dir.join(format!("{name}.partial")),
            path: self.dir.join(name),
        }
    }

    /// Whether this run goes on from a checkpoint (streamed files have their headers).
    pub fn resuming(&self) -> bool {
        self.resume.is_some()
    }

    /// A file that grows while documents stream: new, or (resuming) cut back to its
    /// checkpointed length and appended to.
    pub fn stream(&mut self, name: &str) -> Result<BufWriter<File>> {
        let p = self.pending(name);
        let w = match &self.resume {
            None => create(&p.tmp)?,
            Some(lengths) => {
                let len = *lengths.get(name).with_context(|| {
                    format!("the checkpoint does not cover {name} (run without --resume)")
                })?;
                if !p.tmp.exists() && p.path.exists() {
                    // Killed while renaming files into place: take the file back.
                    fs::rename(&p.path, &p.tmp)?;
                }
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .open(&p.tmp)
                    .with_context(|| format!("cannot resume {}", p.tmp.display()))?;
                if f.metadata()?.len() < len {
                    bail!(
                        "{} is shorter than its checkpoint says (run without --resume)",
                        p.tmp.display()
                    );
                }
                f.set_len(len)?;
                f.seek(SeekFrom::End(0))?;
                BufWriter::with_capacity(1 << 16, f)
            }
        };
        self.pending.push(p);
        Ok(w)
    }

    /// A file written once, at the end.
    pub fn create(&mut self, name: &str) -> Result<BufWriter<File>> {
        let p = self.pending(name);
        let w = create(&p.tmp)?;
        self.pending.push(p);
        Ok(w)
    }

    /// Lengths of the files written so far (flush the sinks first).
    fn lengths(&self) -> Result<StreamLengths> {
        self.pending
            .iter()
            .map(|p| Ok((p.name.clone(), fs::metadata(&p.tmp)?.len())))
            .collect()
    }

    /// Rename every file into place, in the order they were opened.
    fn commit(self) -> Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for p in self.pending {
            fs::rename(&p.tmp, &p.path).with_context(|| {
                format!("cannot rename {} to {}", p.tmp.display(), p.path.display())
            })?;
            written.push(p.path);
        }
        Ok(written)
    }
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    let f = File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 16, f))
}

/// Streams rows into the output folder through one sink per format.
pub struct Exporter {
    files: Files,
    sinks: Vec<Box<dyn Sink>>,
}

impl Exporter {
    /// Start a fresh run in `dir`: finished files of an earlier run are removed first, so the
    /// folder never mixes two runs. `part` adds the part file of a shard run.
    pub fn create(dir: &Path, formats: Formats, part: bool) -> Result<Self> {
        Self::open(dir, formats, part, None)
    }

    /// Go on from a checkpoint: every streamed file is cut back to the length the checkpoint
    /// recorded and appended to.
    pub fn resume(
        dir: &Path,
        formats: Formats,
        part: bool,
        lengths: &StreamLengths,
    ) -> Result<Self> {
        if formats.parquet {
            bail!(
                "--resume cannot go on with Parquet files (a Parquet file is final only once \
                 closed); run again without --resume"
            );
        }
        Self::open(dir, formats, part, Some(lengths.clone()))
    }

    fn open(
        dir: &Path,
        formats: Formats,
        part: bool,
        resume: Option<StreamLengths>,
    ) -> Result<Self> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output folder {}", dir.display()))?;
        if resume.is_none() {
            for name in all_outputs() {
                let p = dir.join(name);
                if p.exists() {
                    fs::remove_file(&p).with_context(|| {
                        format!("cannot remove {} of an earlier run", p.display())
                    })?;
                }
            }
        }
        let mut files = Files {
            dir: dir.to_path_buf(),
            resume,
            pending: Vec::new(),
        };
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        if formats.csv {
            sinks.push(Box::new(csv::CsvSink::open(&mut files)?));
        }
        if formats.jsonl {
            sinks.push(Box::new(jsonl::JsonlSink::open(&mut files)?));
        }
        if formats.json {
            sinks.push(Box::new(json::JsonSink));
        }
        if formats.parquet {
            sinks.push(Box::new(parquet::ParquetSink::open(&mut files)?));
        }
        if part {
            sinks.push(Box::new(part::PartSink::open(&mut files)?));
        }
        Ok(Exporter { files, sinks })
    }

    /// Flush the streamed files and return their lengths, for a checkpoint.
    pub fn flush_streams(&mut self) -> Result<StreamLengths> {
        for s in &mut self.sinks {
            s.flush()?;
        }
        self.files.lengths()
    }

    pub fn mention(&mut self, row: &MentionRecord) -> Result<()> {
        self.sinks.iter_mut().try_for_each(|s| s.mention(row))
    }

    pub fn document(&mut self, row: &DocumentRecord) -> Result<()> {
        self.sinks.iter_mut().try_for_each(|s| s.document(row))
    }

    pub fn error(&mut self, row: &ErrorRecord) -> Result<()> {
        self.sinks.iter_mut().try_for_each(|s| s.error(row))
    }

    /// Close the streams, write the aggregated tables, then the manifest (made by `manifest`
    /// once everything else is written, and returned), and rename every file into place (the
    /// manifest last).
    pub fn finish<M: Serialize>(
        self,
        table: &EntityTable,
        run: &RunRecord,
        manifest: impl FnOnce() -> M,
    ) -> Result<(Vec<PathBuf>, M)> {
        let Exporter { mut files, sinks } = self;
        let entities = table.rows();
        let pairs = table.pair_rows();
        let tables = Tables::new(&entities, &pairs, table, run);
        for s in sinks {
            s.finish(&tables, &mut files)?;
        }
        let manifest = manifest();
        let mut w = files.create("manifest.json")?;
        serde_json::to_writer_pretty(&mut w, &manifest)?;
        w.write_all(b"\n")?;
        w.flush()?;
        drop(w);
        Ok((files.commit()?, manifest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ner::Engine;

    pub(crate) fn run_record() -> RunRecord {
        RunRecord {
            fingerprint: "f".into(),
            version: "0".into(),
            model: "m".into(),
            model_description: String::new(),
            labels: vec![],
            backend: Engine::Mock,
            link: false,
        }
    }

    #[test]
    fn formats_parse() {
        assert_eq!(
            "csv".parse::<Formats>().unwrap(),
            Formats {
                csv: true,
                jsonl: false,
                json: false,
                parquet: false,
                html: false,
            }
        );
        assert_eq!(
            "csv,jsonl,json".parse::<Formats>().unwrap(),
            Formats::default()
        );
        assert!("parquet".parse::<Formats>().unwrap().parquet);
        let html: Formats = "html".parse().unwrap();
        assert!(html.html && html.csv, "the report reads the csv tables");
        assert!("xml".parse::<Formats>().is_err());
        assert!("".parse::<Formats>().is_err());
    }

    #[test]
    fn nothing_is_final_until_finish() {
        let dir = tempfile::tempdir().unwrap();
        let all = "csv,jsonl,json,parquet".parse().unwrap();
        let mut ex = Exporter::create(dir.path(), all, true).unwrap();
        ex.error(&ErrorRecord {
            file: "a.jsonl".into(),
            line: Some(3),
            reason: "bad".into(),
        })
        .unwrap();
        assert!(!dir.path().join("errors.csv").exists());
        assert!(dir.path().join("errors.csv.partial").exists());
        let (files, m) = ex
            .finish(
                &EntityTable::default(),
                &run_record(),
                || serde_json::json!({"ok": true}),
            )
            .unwrap();
        assert_eq!(m["ok"], true);
        assert_eq!(
            fs::read_to_string(dir.path().join("errors.csv")).unwrap(),
            "file,line,reason\na.jsonl,3,bad\n"
        );
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .collect();
        assert!(left.is_empty());
        let mut names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut expected = all.files(true);
        expected.retain(|f| f != crate::report::FILE);
        expected.sort();
        assert_eq!(names, expected);
    }
}
