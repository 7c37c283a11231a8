//! The knowledge table on the bundled sample corpus, with the bundled model and lexicon:
//! short forms merge into their long forms' entities with ontology ids, listed companies carry
//! their tickers, co-occurrences and the graph agree with the entity table.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use biotable::pipeline::{extract, ExtractOptions};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One extract run over data/sample, shared by the tests of this file.
fn sample_out() -> &'static Path {
    static OUT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &OnceLock::get_or_init(&OUT, || {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut opts = ExtractOptions::new(
            vec![repo().join("data/sample")],
            out.clone(),
            repo().join("models/biotable-ner"),
        );
        opts.threads = 2;
        extract(&opts).expect("the sample corpus runs");
        (dir, out)
    })
    .1
}

fn read_csv(name: &str) -> Vec<HashMap<String, String>> {
    common::read_csv(&sample_out().join(name))
}

fn entity_with_concept(rows: &[HashMap<String, String>], id: &str) -> HashMap<String, String> {
    rows.iter()
        .find(|r| r["concept_id"] == id)
        .unwrap_or_else(|| panic!("no entity linked to {id}"))
        .clone()
}

#[test]
fn short_forms_merge_into_linked_entities() {
    let entities = read_csv("entities.csv");
    let aml = entity_with_concept(&entities, "MONDO:0018874");
    assert_eq!(aml["label"], "DISEASE");
    assert_eq!(aml["name"], "acute myeloid leukemia");
    assert!(aml["surface_forms"].contains("AML ("), "{aml:?}");
    assert!(
        aml["surface_forms"].contains("acute myeloid leukemia ("),
        "{aml:?}"
    );
    assert!(aml["xrefs"].contains("MESH:D015470"), "{aml:?}");
    assert!(aml["xrefs"].contains("DOID:9119"), "{aml:?}");
    assert_eq!(
        entities
            .iter()
            .filter(|r| r["concept_id"] == "MONDO:0018874")
            .count(),
        1,
        "one entity per concept"
    );

    let nk = entity_with_concept(&entities, "CL:0000623");
    assert_eq!(nk["label"], "CELL_TYPE");
    assert!(nk["surface_forms"].contains("NK cells ("), "{nk:?}");
    assert!(
        nk["surface_forms"].contains("natural killer (NK) cells ("),
        "{nk:?}"
    );
}

#[test]
fn listed_companies_carry_cik_and_ticker() {
    let entities = read_csv("entities.csv");
    let calidi = entity_with_concept(&entities, "CIK:0001855485");
    assert_eq!(calidi["label"], "COMPANY");
    assert_eq!(calidi["ontology"], "SEC");
    assert!(calidi["attributes"].contains("ticker=CLDI"), "{calidi:?}");
    let lund = entities
        .iter()
        .find(|r| r["name"] == "Lund University")
        .expect("Lund University is an entity");
    assert_eq!(lund["label"], "ORGANIZATION");
    assert!(lund["attributes"].contains("country=SE"), "{lund:?}");
}

#[test]
fn mentions_carry_their_links() {
    let mentions = read_csv("mentions.csv");
    let entities = read_csv("entities.csv");
    let concept_of: HashMap<&str, &str> = entities
        .iter()
        .map(|r| (r["entity_id"].as_str(), r["concept_id"].as_str()))
        .collect();
    let mut linked = 0;
    for m in &mentions {
        assert_eq!(
            m["concept_id"],
            concept_of[m["entity_id"].as_str()],
            "{m:?}"
        );
        if m["concept_id"].is_empty() {
            assert!(
                m["link_score"].is_empty() && m["ontology"].is_empty(),
                "{m:?}"
            );
        } else {
            linked += 1;
            let s: f64 = m["link_score"].parse().unwrap();
            assert!(s > 0.0 && s <= 1.0, "{m:?}");
            assert!(!m["concept_name"].is_empty());
        }
    }
    assert!(
        linked * 4 > mentions.len(),
        "{linked} of {} linked",
        mentions.len()
    );
    let aml: Vec<_> = mentions
        .iter()
        .filter(|m| m["text"] == "AML" && m["doc_id"] == "press-01-calidi.md")
        .collect();
    assert!(!aml.is_empty());
    assert!(aml.iter().all(|m| m["concept_id"] == "MONDO:0018874"));
}

#[test]
fn cooccurrences_and_graph_agree_with_entities() {
    let entities = read_csv("entities.csv");
    let pairs = read_csv("cooccurrences.csv");
    let ids: HashSet<&str> = entities.iter().map(|r| r["entity_id"].as_str()).collect();
    let calidi = entity_with_concept(&entities, "CIK:0001855485");
    let aml = entity_with_concept(&entities, "MONDO:0018874");
    let pair = pairs
        .iter()
        .find(|p| {
            let ab = [p["entity_a"].as_str(), p["entity_b"].as_str()];
            ab.contains(&calidi["entity_id"].as_str()) && ab.contains(&aml["entity_id"].as_str())
        })
        .expect("Calidi and AML share a sentence");
    assert!(pair["sentence_count"].parse::<u64>().unwrap() >= 1);
    assert_eq!(pair["example_doc_ids"], "press-01-calidi.md");
    for p in &pairs {
        assert!(ids.contains(p["entity_a"].as_str()) && ids.contains(p["entity_b"].as_str()));
        assert!(p["entity_a"] < p["entity_b"], "pairs are ordered: {p:?}");
        let (s, d): (u64, u64) = (
            p["sentence_count"].parse().unwrap(),
            p["document_count"].parse().unwrap(),
        );
        assert!(s >= d && d >= 1, "{p:?}");
    }

    let graph: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sample_out().join("knowledge.json")).unwrap())
            .unwrap();
    assert_eq!(graph["directed"], false);
    assert_eq!(graph["multigraph"], false);
    let nodes = graph["nodes"].as_array().unwrap();
    let links = graph["edges"].as_array().unwrap();
    assert_eq!(nodes.len(), entities.len());
    assert_eq!(links.len(), pairs.len());
    let node_ids: HashSet<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(node_ids, ids);
    for l in links {
        assert!(node_ids.contains(l["source"].as_str().unwrap()));
        assert!(node_ids.contains(l["target"].as_str().unwrap()));
    }
}
