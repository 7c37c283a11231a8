//! Writing the tables. Every file is written under a `.partial` name and renamed when the run
//! completes, so a crash never leaves a table that looks finished but is not.
//!
//! Files (the `--format` list picks the families; `manifest.json` is always written):
//! - csv: `mentions.csv`, `entities.csv`, `cooccurrences.csv`, `documents.csv`, `errors.csv`
//! - jsonl: `mentions.jsonl`
//! - json: `entities.json`, `knowledge.json` (entities as nodes, co-occurrences as links, in
//!   the node-link format that `networkx.node_link_graph` reads)

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::ingest::IngestError;
use crate::normalize::lexicon::{Concept, Ontology};
use crate::normalize::Linked;
use crate::table::{ConceptInfo, EntityRow, PairRow};
use crate::types::{Document, EntityLabel, Mention};

/// Which output families to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    pub csv: bool,
    pub jsonl: bool,
    pub json: bool,
}

impl Default for Formats {
    fn default() -> Self {
        Formats {
            csv: true,
            jsonl: true,
            json: true,
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
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "csv" => f.csv = true,
                "jsonl" => f.jsonl = true,
                "json" => f.json = true,
                other => bail!("unknown format {other:?} (expected csv, jsonl, json)"),
            }
        }
        if !(f.csv || f.jsonl || f.json) {
            bail!("--format needs at least one of csv, jsonl, json");
        }
        Ok(f)
    }
}

/// Every file a run may write (removed at the start of a fresh run).
pub const ALL_OUTPUTS: &[&str] = &[
    "mentions.csv",
    "mentions.jsonl",
    "entities.csv",
    "entities.json",
    "cooccurrences.csv",
    "knowledge.json",
    "documents.csv",
    "errors.csv",
    "manifest.json",
];

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
pub const DOCUMENT_COLUMNS: &[&str] = &["doc_id", "source", "chars", "sentences", "mentions"];
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

/// One row of mentions.csv / mentions.jsonl (fields in [`MENTION_COLUMNS`] order). The
/// label is the normalized one; concept fields are empty when the mention is not linked.
#[derive(Debug, Clone, Serialize)]
pub struct MentionRow<'a> {
    pub doc_id: &'a str,
    pub start: usize,
    pub end: usize,
    pub text: &'a str,
    pub label: EntityLabel,
    pub score: f64,
    pub sentence: usize,
    pub entity_id: &'a str,
    pub concept_id: Option<&'a str>,
    pub concept_name: Option<&'a str>,
    pub ontology: Option<Ontology>,
    pub link_score: Option<f64>,
}

impl<'a> MentionRow<'a> {
    pub fn new(
        doc: &'a Document,
        m: &'a Mention,
        sentence: usize,
        linked: &Linked,
        concept: Option<&'a Concept>,
        entity_id: &'a str,
    ) -> Self {
        MentionRow {
            doc_id: &doc.id,
            start: m.span.start,
            end: m.span.end,
            text: &m.text,
            label: linked.label,
            score: round4(m.score),
            sentence,
            entity_id,
            concept_id: concept.map(|c| c.id.as_str()),
            concept_name: concept.map(|c| c.name.as_str()),
            ontology: concept.map(|c| c.ontology),
            link_score: linked.link.map(|l| round4(l.score)),
        }
    }
}

/// Scores are written with 4 decimals: enough to rank, and stable across thread counts.
pub fn round4(x: f32) -> f64 {
    (x as f64 * 10_000.0).round() / 10_000.0
}

#[derive(Debug, Clone, Serialize)]
pub struct DocumentRow<'a> {
    pub doc_id: &'a str,
    pub source: String,
    pub chars: usize,
    pub sentences: usize,
    pub mentions: usize,
}

/// A row of the entity tables; `L`, `A` and `F` are how lists, attributes and surface forms
/// are written: one `a; b` cell each in entities.csv, JSON lists and objects in entities.json.
#[derive(Serialize)]
struct EntityOut<'a, L: Serialize, A: Serialize, F: Serialize> {
    entity_id: &'a str,
    label: EntityLabel,
    name: &'a str,
    concept_id: Option<&'a str>,
    ontology: Option<Ontology>,
    xrefs: L,
    attributes: A,
    mention_count: u64,
    document_count: u64,
    surface_forms: F,
    example_doc_ids: L,
}

fn concept_of<'a>(e: &EntityRow<'a>) -> (Option<&'a str>, Option<Ontology>) {
    let c: Option<&ConceptInfo> = e.concept;
    (c.map(|c| c.concept_id.as_str()), c.map(|c| c.ontology))
}

fn xrefs_of<'a>(e: &EntityRow<'a>) -> &'a [String] {
    e.concept.map_or(&[], |c| c.xrefs.as_slice())
}

fn attributes_of<'a>(e: &EntityRow<'a>) -> &'a [(String, String)] {
    e.concept.map_or(&[], |c| c.attributes.as_slice())
}

/// One row of cooccurrences.csv.
#[derive(Serialize)]
struct PairOut<'a> {
    entity_a: &'a str,
    label_a: EntityLabel,
    name_a: &'a str,
    entity_b: &'a str,
    label_b: EntityLabel,
    name_b: &'a str,
    sentence_count: u64,
    document_count: u64,
    example_doc_ids: String,
}

/// knowledge.json: networkx node-link data, read as is by `networkx.node_link_graph(data)`
/// (networkx ≥ 3.4; older versions: `node_link_graph(data, link="edges")`).
#[derive(Serialize)]
struct Knowledge<N: Serialize, E: Serialize> {
    directed: bool,
    multigraph: bool,
    graph: serde_json::Value,
    nodes: N,
    edges: E,
}

/// A slice written as a JSON list of `f(item)`, one item at a time.
struct SeqOf<'s, T, F>(&'s [T], F);

impl<'s, T, O: Serialize, F: Fn(&'s T) -> O> Serialize for SeqOf<'s, T, F> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(&self.1))
    }
}

/// Surface forms written as a JSON list of `{text, count}`.
struct SurfaceForms<'a>(&'a [(&'a str, u64)]);

impl Serialize for SurfaceForms<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(
            self.0
                .iter()
                .map(|&(text, count)| SurfaceForm { text, count }),
        )
    }
}

/// An entities.json row.
fn entity_json<'r>(
    e: &'r EntityRow<'_>,
) -> EntityOut<'r, &'r [String], AttributeMap<'r>, SurfaceForms<'r>> {
    let (concept_id, ontology) = concept_of(e);
    EntityOut {
        entity_id: &e.entity_id,
        label: e.label,
        name: e.name,
        concept_id,
        ontology,
        xrefs: xrefs_of(e),
        attributes: AttributeMap(attributes_of(e)),
        mention_count: e.mention_count,
        document_count: e.document_count,
        surface_forms: SurfaceForms(&e.surface_forms),
        example_doc_ids: e.example_doc_ids,
    }
}

/// A knowledge.json node.
fn node<'r>(e: &'r EntityRow<'_>) -> Node<'r> {
    let (concept_id, ontology) = concept_of(e);
    Node {
        id: &e.entity_id,
        label: e.label,
        name: e.name,
        concept_id,
        ontology,
        mention_count: e.mention_count,
        document_count: e.document_count,
    }
}

/// Key-value attributes written as a JSON object.
struct AttributeMap<'a>(&'a [(String, String)]);

impl Serialize for AttributeMap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[derive(Serialize)]
struct Node<'a> {
    id: &'a str,
    label: EntityLabel,
    name: &'a str,
    concept_id: Option<&'a str>,
    ontology: Option<Ontology>,
    mention_count: u64,
    document_count: u64,
}

#[derive(Serialize)]
struct Edge<'a> {
    source: &'a str,
    target: &'a str,
    weight: u64,
    sentence_count: u64,
    document_count: u64,
}

#[derive(Serialize)]
struct SurfaceForm<'a> {
    text: &'a str,
    count: u64,
}

/// Flush a CSV writer and the file under it.
fn close_csv(w: csv::Writer<BufWriter<File>>) -> Result<()> {
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("flushing: {e}"))?
        .flush()?;
    Ok(())
}

/// A file written under `NAME.partial` and renamed to `NAME` by [`Pending::commit`].
struct Pending {
    tmp: PathBuf,
    path: PathBuf,
}

impl Pending {
    fn new(dir: &Path, name: &str) -> Self {
        Pending {
            tmp: dir.join(format!("{name}.partial")),
            path: dir.join(name),
        }
    }

    fn create(&self) -> Result<BufWriter<File>> {
        let f = File::create(&self.tmp)
            .with_context(|| format!("cannot write {}", self.tmp.display()))?;
        Ok(BufWriter::with_capacity(1 << 16, f))
    }

    fn commit(&self) -> Result<()> {
        fs::rename(&self.tmp, &self.path).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.tmp.display(),
                self.path.display()
            )
        })
    }
}

/// Streams rows into the output folder.
pub struct Exporter {
    dir: PathBuf,
    formats: Formats,
    mentions_csv: Option<csv::Writer<BufWriter<File>>>,
    mentions_jsonl: Option<BufWriter<File>>,
    documents_csv: Option<csv::Writer<BufWriter<File>>>,
    errors_csv: Option<csv::Writer<BufWriter<File>>>,
    pending: Vec<Pending>,
}

/// Lengths of the files that grow while documents stream, as a checkpoint records them.
pub type StreamLengths = BTreeMap<String, u64>;

impl Exporter {
    /// Start a fresh run in `dir`: finished files of an earlier run are removed first, so the
    /// folder never mixes two runs.
    pub fn create(dir: &Path, formats: Formats) -> Result<Self> {
        Self::open(dir, formats, None)
    }

    /// Go on from a checkpoint: every streamed file is cut back to the length the checkpoint
    /// recorded and appended to.
    pub fn resume(dir: &Path, formats: Formats, lengths: &StreamLengths) -> Result<Self> {
        Self::open(dir, formats, Some(lengths))
    }

    fn open(dir: &Path, formats: Formats, resume: Option<&StreamLengths>) -> Result<Self> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output folder {}", dir.display()))?;
        if resume.is_none() {
            for name in ALL_OUTPUTS {
                let p = dir.join(name);
                if p.exists() {
                    fs::remove_file(&p).with_context(|| {
                        format!("cannot remove {} of an earlier run", p.display())
                    })?;
                }
            }
        }
        let mut ex = Exporter {
            dir: dir.to_path_buf(),
            formats,
            mentions_csv: None,
            mentions_jsonl: None,
            documents_csv: None,
            errors_csv: None,
            pending: Vec::new(),
        };
        if formats.csv {
            ex.mentions_csv = Some(ex.csv_stream("mentions.csv", MENTION_COLUMNS, resume)?);
            ex.documents_csv = Some(ex.csv_stream("documents.csv", DOCUMENT_COLUMNS, resume)?);
            ex.errors_csv =
                Some(ex.csv_stream("errors.csv", &["file", "line", "reason"], resume)?);
        }
        if formats.jsonl {
            ex.mentions_jsonl = Some(ex.stream("mentions.jsonl", resume)?);
        }
        Ok(ex)
    }

    /// A streamed file: new, or (resuming) cut back to its checkpointed length.
    fn stream(&mut self, name: &str, resume: Option<&StreamLengths>) -> Result<BufWriter<File>> {
        let p = Pending::new(&self.dir, name);
        let w = match resume {
            None => p.create()?,
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

    /// A streamed CSV file; its header is written up front so that empty tables have one.
    fn csv_stream(
        &mut self,
        name: &str,
        header: &[&str],
        resume: Option<&StreamLengths>,
    ) -> Result<csv::Writer<BufWriter<File>>> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(self.stream(name, resume)?);
        if resume.is_none() {
            w.write_record(header)?;
        }
        Ok(w)
    }

    /// A CSV file written at the end.
    fn csv_writer(&mut self, name: &str, header: &[&str]) -> Result<csv::Writer<BufWriter<File>>> {
        let p = Pending::new(&self.dir, name);
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(p.create()?);
        w.write_record(header)?;
        self.pending.push(p);
        Ok(w)
    }

    /// Flush the streamed files and return their lengths, for a checkpoint.
    pub fn flush_streams(&mut self) -> Result<StreamLengths> {
        for w in [
            self.mentions_csv.as_mut(),
            self.documents_csv.as_mut(),
            self.errors_csv.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            w.flush()?;
        }
        if let Some(w) = self.mentions_jsonl.as_mut() {
            w.flush()?;
        }
        let mut lengths = StreamLengths::new();
        for p in &self.pending {
            let name = p
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            lengths.insert(name, fs::metadata(&p.tmp)?.len());
        }
        Ok(lengths)
    }

    pub fn mention(&mut self, row: &MentionRow) -> Result<()> {
        if let Some(w) = self.mentions_csv.as_mut() {
            w.serialize(row)?;
        }
        if let Some(w) = self.mentions_jsonl.as_mut() {
            serde_json::to_writer(&mut *w, row)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }

    pub fn document(&mut self, row: &DocumentRow) -> Result<()> {
        if let Some(w) = self.documents_csv.as_mut() {
            w.serialize(row)?;
        }
        Ok(())
    }

    pub fn error(&mut self, e: &IngestError) -> Result<()> {
        if let Some(w) = self.errors_csv.as_mut() {
            let line = e.line.map(|l| l.to_string()).unwrap_or_default();
            w.write_record([e.file.as_str(), line.as_str(), e.reason.as_str()])?;
        }
        Ok(())
    }

    /// Write the entity tables, co-occurrences, the graph and the manifest, flush everything,
    /// and rename the files into place (the manifest last).
    /// Close the streams, write the aggregated tables, then the manifest (made by `manifest`
    /// once everything else is written, and returned), and rename every file into place.
    pub fn finish<M: Serialize>(
        mut self,
        entities: &[EntityRow],
        pairs: &[PairRow],
        manifest: impl FnOnce() -> M,
    ) -> Result<(Vec<PathBuf>, M)> {
        for w in [
            self.mentions_csv.take(),
            self.documents_csv.take(),
            self.errors_csv.take(),
        ]
        .into_iter()
        .flatten()
        {
            close_csv(w)?;
        }
        if let Some(mut w) = self.mentions_jsonl.take() {
            w.flush()?;
        }
        let mut by_index: Vec<Option<&EntityRow>> = vec![None; entities.len()];
        for e in entities {
            by_index[e.index] = Some(e);
        }
        let entity = |i: usize| by_index[i].expect("pairs refer to entities of the table");
        if self.formats.csv {
            let mut w = self.csv_writer("entities.csv", ENTITY_COLUMNS)?;
            for e in entities {
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
                    entity_id: &e.entity_id,
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
            close_csv(w)?;
            let mut w = self.csv_writer("cooccurrences.csv", COOCCURRENCE_COLUMNS)?;
            for p in pairs {
                let (a, b) = (entity(p.a), entity(p.b));
                w.serialize(PairOut {
                    entity_a: &a.entity_id,
                    label_a: a.label,
                    name_a: a.name,
                    entity_b: &b.entity_id,
                    label_b: b.label,
                    name_b: b.name,
                    sentence_count: p.sentence_count,
                    document_count: p.document_count,
                    example_doc_ids: p.example_doc_ids.join("; "),
                })?;
            }
            close_csv(w)?;
        }
        if self.formats.json {
            // Written element by element: no copy of the tables is built in memory.
            let rows = SeqOf(entities, entity_json);
            self.write_json("entities.json", &rows)?;
            let graph = Knowledge {
                directed: false,
                multigraph: false,
                graph: serde_json::json!({"name": "biotable knowledge graph",
                    "edge_meaning": "entities mentioned in the same sentence"}),
                nodes: SeqOf(entities, node),
                edges: SeqOf(pairs, |p: &PairRow| Edge {
                    source: &entity(p.a).entity_id,
                    target: &entity(p.b).entity_id,
                    weight: p.sentence_count,
                    sentence_count: p.sentence_count,
                    document_count: p.document_count,
                }),
            };
            self.write_json("knowledge.json", &graph)?;
        }
        let manifest = manifest();
        self.write_json("manifest.json", &manifest)?;
        let mut written = Vec::new();
        for p in &self.pending {
            p.commit()?;
            written.push(p.path.clone());
        }
        Ok((written, manifest))
    }

    fn write_json<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<()> {
        let p = Pending::new(&self.dir, name);
        let mut w = p.create()?;
        serde_json::to_writer_pretty(&mut w, value)?;
        w.write_all(b"\n")?;
        w.flush()?;
        self.pending.push(p);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse() {
        assert_eq!(
            "csv".parse::<Formats>().unwrap(),
            Formats {
                csv: true,
                jsonl: false,
                json: false
            }
        );
        assert_eq!(
            "csv,jsonl,json".parse::<Formats>().unwrap(),
            Formats::default()
        );
        assert!("xml".parse::<Formats>().is_err());
        assert!("".parse::<Formats>().is_err());
    }

    #[test]
    fn nothing_is_final_until_finish() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = Exporter::create(dir.path(), Formats::default()).unwrap();
        ex.error(&IngestError {
            file: "a.jsonl".into(),
            line: Some(3),
            reason: "bad".into(),
        })
        .unwrap();
        assert!(!dir.path().join("errors.csv").exists());
        assert!(dir.path().join("errors.csv.partial").exists());
        let (_, m) = ex
            .finish(&[], &[], || serde_json::json!({"ok": true}))
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
        assert!(dir.path().join("manifest.json").exists());
    }
}
