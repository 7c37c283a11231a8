//! Map + merge equals one run: a fixture corpus split into k = 1..4 random shards, each
//! mapped (`biotable map`'s code path), the parts merged in shuffled order, gives the tables
//! one `extract` run gives. Aggregated tables are compared byte for byte; streamed tables
//! (mentions, documents, errors) row for row in any order, since their order follows the
//! parts. The `source` of a document and the file of an error name the file each process
//! read, so they are left out.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use biotable::export::Formats;
use biotable::ingest::FieldNames;
use biotable::pipeline::map::{MapSettings, Mapper};
use biotable::pipeline::{extract, map_with, merge, ExtractOptions, MapOptions, MergeOptions};
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/biotable-ner")
}

fn formats() -> Formats {
    "csv,json,parquet".parse().unwrap()
}

/// The fixture corpus as JSONL lines: the bundled sample, plus two records that become
/// errors (bad JSON, an empty text). Ids are unique: a repeated id is renamed by the process
/// that sees both, which a split run cannot promise (see the README).
fn corpus() -> &'static Vec<String> {
    static LINES: OnceLock<Vec<String>> = OnceLock::new();
    LINES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut lines: Vec<String> = names
            .iter()
            .map(|n| {
                let text = fs::read_to_string(dir.join(n)).unwrap();
                serde_json::json!({"id": n, "text": text}).to_string()
            })
            .collect();
        lines.insert(3, "{not json".to_string());
        lines.insert(7, r#"{"id": "blank", "text": "  "}"#.to_string());
        lines
    })
}

struct Fixture {
    dir: tempfile::TempDir,
    mapper: Mapper,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("corpus.jsonl");
        fs::write(&input, corpus().join("\n") + "\n").unwrap();
        let mut opts = ExtractOptions::new(vec![input], dir.path().join("one-run"), model());
        opts.formats = formats();
        opts.threads = 2;
        extract(&opts).expect("the reference run");
        let mapper = Mapper::load(&MapSettings {
            model: model(),
            batch_tokens: opts.batch_tokens,
            threads: 2,
            backend: opts.backend,
            link: true,
        })
        .unwrap();
        Fixture { dir, mapper }
    })
}

/// CSV rows without the columns that name the file a process read.
fn rows(path: &Path, drop: &[&str]) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    let keep: Vec<usize> = (0..headers.len())
        .filter(|&i| !drop.contains(&&headers[i]))
        .collect();
    let mut out: Vec<String> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            keep.iter()
                .map(|&i| &rec[i])
                .collect::<Vec<_>>()
                .join("\u{1f}")
        })
        .collect();
    out.sort();
    out
}

fn assert_same_tables(one: &Path, merged: &Path) {
    for f in [
        "entities.csv",
        "cooccurrences.csv",
        "entities.json",
        "knowledge.json",
    ] {
        let (a, b) = (
            fs::read(one.join(f)).unwrap(),
            fs::read(merged.join(f)).unwrap(),
        );
        assert!(a == b, "{f} differs between one run and the merged shards");
    }
    assert_eq!(
        rows(&one.join("mentions.csv"), &[]),
        rows(&merged.join("mentions.csv"), &[])
    );
    assert_eq!(
        rows(&one.join("documents.csv"), &["source"]),
        rows(&merged.join("documents.csv"), &["source"])
    );
    assert_eq!(
        rows(&one.join("errors.csv"), &["file", "line"]),
        rows(&merged.join("errors.csv"), &["file", "line"])
    );
    let counts = |dir: &Path| {
        let m: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        (m["counts"].clone(), m["fingerprint"].clone())
    };
    assert_eq!(counts(one), counts(merged));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
    #[test]
    fn merged_shards_equal_one_run(
        k in 1usize..=4,
        assignment in prop::collection::vec(0usize..4, 64),
        seed in any::<u64>(),
    ) {
        let f = fixture();
        let work = tempfile::tempdir().unwrap();
        let lines = corpus();
        let mut shards: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
        for (i, line) in lines.iter().enumerate() {
            shards.entry(assignment[i % assignment.len()] % k).or_default().push(line);
        }
        let mut parts = Vec::new();
        for (s, shard) in &shards {
            let input = work.path().join(format!("shard{s}.jsonl"));
            fs::write(&input, shard.join("\n") + "\n").unwrap();
            let opts = MapOptions {
                settings: MapSettings {
                    model: model(),
                    batch_tokens: 1024,
                    threads: 2,
                    backend: biotable::ner::BackendChoice::Auto,
                    link: true,
                },
                inputs: vec![input],
                fields: FieldNames::default(),
                chunk_docs: 1 + (seed as usize % 7),
            };
            let mut out = Vec::new();
            map_with(&f.mapper, &opts, &mut out).unwrap();
            if *s == 0 {
                // A retried task writes the same bytes (here with another chunk size too).
                let mut again = Vec::new();
                let other = MapOptions { chunk_docs: 256, ..opts.clone() };
                map_with(&f.mapper, &other, &mut again).unwrap();
                prop_assert!(again == out, "map gave other bytes for the same input");
            }
            let part = work.path().join(format!("part-{s}.jsonl"));
            fs::write(&part, out).unwrap();
            parts.push(part);
        }
        parts.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        let merged = work.path().join("merged");
        merge(&MergeOptions { parts, out: merged.clone(), formats: formats(), docs: None }).unwrap();
        assert_same_tables(&f.dir.path().join("one-run"), &merged);
    }
}

#[test]
fn shard_runs_merge_into_one_run() {
    let f = fixture();
    let work = tempfile::tempdir().unwrap();
    let input = f.dir.path().join("corpus.jsonl");
    let mut parts = Vec::new();
    for k in 1..=3 {
        let out = work.path().join(format!("shard{k}"));
        let mut opts = ExtractOptions::new(vec![input.clone()], out.clone(), model());
        opts.formats = "csv".parse().unwrap();
        opts.threads = 2;
        opts.shard = Some(format!("{k}/3").parse().unwrap());
        extract(&opts).unwrap();
        assert!(out.join("part.jsonl").is_file());
        parts.push(out);
    }
    parts.reverse();
    let merged = work.path().join("merged");
    merge(&MergeOptions {
        parts: parts.clone(),
        out: merged.clone(),
        formats: formats(),
        docs: None,
    })
    .unwrap();
    assert_same_tables(&f.dir.path().join("one-run"), &merged);

    // A part made with other settings is refused, naming both.
    let unlinked = work.path().join("unlinked");
    let mut opts = ExtractOptions::new(vec![input], unlinked.clone(), model());
    opts.formats = "csv".parse().unwrap();
    opts.link = false;
    opts.shard = Some("1/3".parse().unwrap());
    extract(&opts).unwrap();
    let err = merge(&MergeOptions {
        parts: vec![parts[0].clone(), unlinked],
        out: work.path().join("refused"),
        formats: formats(),
        docs: None,
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("another model or settings"), "{err}");

    // A part cut short (its map task died) is refused.
    let cut = work.path().join("cut.jsonl");
    let text = fs::read_to_string(parts[0].join("part.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    fs::write(&cut, lines[..lines.len() - 1].join("\n")).unwrap();
    let err = merge(&MergeOptions {
        parts: vec![cut],
        out: work.path().join("cut-out"),
        formats: formats(),
        docs: None,
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("does not end with a run record"), "{err}");
}
