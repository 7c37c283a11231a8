//! The json family, written at the end: `entities.json` and `knowledge.json` (networkx
//! node-link data, read as is by `networkx.node_link_graph(data)`; networkx ≥ 3.4, older
//! versions: `node_link_graph(data, link="edges")`).

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use super::{attributes_of, concept_of, xrefs_of, EntityOut, Files, Sink, Tables};
use crate::normalize::lexicon::Ontology;
use crate::table::{EntityRow, PairRow};
use crate::types::{EntityId, EntityLabel};

pub const FILES: [&str; 2] = ["entities.json", "knowledge.json"];

/// Writes only at the end.
pub struct JsonSink;

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
        #[derive(Serialize)]
        struct SurfaceForm<'a> {
            text: &'a str,
            count: u64,
        }
        s.collect_seq(
            self.0
                .iter()
                .map(|&(text, count)| SurfaceForm { text, count }),
        )
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
    id: EntityId,
    label: EntityLabel,
    name: &'a str,
    concept_id: Option<&'a str>,
    ontology: Option<Ontology>,
    mention_count: u64,
    document_count: u64,
}

#[derive(Serialize)]
struct Edge {
    source: EntityId,
    target: EntityId,
    weight: u64,
    sentence_count: u64,
    document_count: u64,
}

fn entity_json<'r>(
    e: &'r EntityRow<'_>,
) -> EntityOut<'r, &'r [String], AttributeMap<'r>, SurfaceForms<'r>> {
    let (concept_id, ontology) = concept_of(e);
    EntityOut {
        entity_id: e.entity_id,
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

fn node<'r>(e: &'r EntityRow<'_>) -> Node<'r> {
    let (concept_id, ontology) = concept_of(e);
    Node {
        id: e.entity_id,
        label: e.label,
        name: e.name,
        concept_id,
        ontology,
        mention_count: e.mention_count,
        document_count: e.document_count,
    }
}

fn write_json<T: Serialize + ?Sized>(files: &mut Files, name: &str, value: &T) -> Result<()> {
    let mut w = files.create(name)?;
    serde_json::to_writer_pretty(&mut w, value)?;
    w.write_all(b"\n")?;
    w.flush()?;
    Ok(())
}

impl Sink for JsonSink {
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn finish(self: Box<Self>, t: &Tables, files: &mut Files) -> Result<()> {
        // Written element by element: no copy of the tables is built in memory.
        write_json(files, "entities.json", &SeqOf(t.entities, entity_json))?;
        let graph = Knowledge {
            directed: false,
            multigraph: false,
            graph: serde_json::json!({"name": "biotable knowledge graph",
                "edge_meaning": "entities mentioned in the same sentence"}),
            nodes: SeqOf(t.entities, node),
            edges: SeqOf(t.pairs, |p: &PairRow| Edge {
                source: p.a,
                target: p.b,
                weight: p.sentence_count,
                sentence_count: p.sentence_count,
                document_count: p.document_count,
            }),
        };
        write_json(files, "knowledge.json", &graph)
    }
}
