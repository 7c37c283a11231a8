//! End-to-end tests of `extract` on the fixture corpus, with a tiny random model built on the
//! fly (its predictions are noise, which exercises offsets and export on many spans).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use biotable::export::Formats;
use biotable::ingest::{discover, DocumentStream, FieldNames, Record};
use biotable::ner::backend::testing::write_random_model;
use biotable::pipeline::{extract, ExtractOptions};
use biotable::EntityLabel;

fn fixture_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus")
}

/// One random model shared by the tests of this file.
fn model() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        write_random_model(dir.path(), &EntityLabel::ALL, 7).unwrap();
        dir
    })
    .path()
}

/// The fixture corpus plus a gzip copy of the JSONL file.
fn corpus_with_gzip(dir: &Path) -> PathBuf {
    let root = dir.join("corpus");
    fs::create_dir_all(root.join("abstracts")).unwrap();
    for f in [
        "abstracts/aml.txt",
        "abstracts/press.md",
        "docs.jsonl",
        "docs.csv",
    ] {
        fs::copy(fixture_corpus().join(f), root.join(f)).unwrap();
    }
    let gz = fs::File::create(root.join("more.jsonl.gz")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    std::io::Write::write_all(
        &mut enc,
        b"{\"id\": \"gz-1\", \"text\": \"NK cells kill tumour cells.\"}\n",
    )
    .unwrap();
    enc.finish().unwrap();
    root
}

fn run(inputs: Vec<PathBuf>, out: &Path, threads: usize) -> biotable::pipeline::ExtractSummary {
    let mut opts = ExtractOptions::new(inputs, out.to_path_buf(), model().to_path_buf());
    opts.threads = threads;
    opts.batch_tokens = 256; // several batches even on the small fixture
    opts.chunk_docs = 3; // several chunks too
    extract(&opts).unwrap()
}

fn read_docs(inputs: &[PathBuf]) -> HashMap<String, String> {
    let (files, _) = discover(inputs);
    DocumentStream::new(files, FieldNames::default())
        .filter_map(|r| match r {
            Record::Doc(d) => Some((d.id, d.text)),
            Record::Error(_) => None,
        })
        .collect()
}

#[test]
fn writes_every_table_with_exact_char_offsets() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = corpus_with_gzip(tmp.path());
    let out = tmp.path().join("out");
    let summary = run(vec![corpus.clone()], &out, 2);

    for f in [
        "mentions.csv",
        "mentions.jsonl",
        "entities.csv",
        "entities.json",
        "documents.csv",
        "errors.csv",
        "manifest.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let leftovers: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // 2 text files + 2 good JSONL lines + 2 CSV rows + 1 gzip line; the JSONL line with an
    // empty text is reported and skipped.
    let c = &summary.manifest.counts;
    assert_eq!(c.documents, 7);
    assert_eq!(c.errors, 3);
    assert!(c.mentions > 0, "the random model should find something");

    // Offsets are characters: Python's text[start:end] == text.
    let docs = read_docs(&[corpus]);
    assert!(docs.contains_key("abstracts/aml.txt") && docs.contains_key("gz-1"));
    let mut n = 0;
    for line in fs::read_to_string(out.join("mentions.jsonl"))
        .unwrap()
        .lines()
    {
        let m: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = &docs[m["doc_id"].as_str().unwrap()];
        let (s, e) = (
            m["start"].as_u64().unwrap() as usize,
            m["end"].as_u64().unwrap() as usize,
        );
        let slice: String = text.chars().skip(s).take(e - s).collect();
        assert_eq!(slice, m["text"].as_str().unwrap());
        assert!(!slice.trim().is_empty() && slice.trim() == slice);
        n += 1;
    }
    assert_eq!(n as u64, c.mentions);

    // CSV and JSONL carry the same mentions.
    let mut rdr = csv::Reader::from_path(out.join("mentions.csv")).unwrap();
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        biotable::export::MENTION_COLUMNS
    );
    assert_eq!(rdr.records().count(), n);

    // errors.csv names file and line.
    let errors: Vec<(String, String, String)> = csv::Reader::from_path(out.join("errors.csv"))
        .unwrap()
        .deserialize()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(
        (errors[0].0.as_str(), errors[0].1.as_str()),
        ("docs.jsonl", "3")
    );
    assert!(
        errors[0].2.contains("field \"text\" is not a string"),
        "{errors:?}"
    );
    assert_eq!(
        (errors[1].0.as_str(), errors[1].1.as_str()),
        ("docs.jsonl", "4")
    );
    assert!(errors[1].2.contains("malformed JSON"), "{errors:?}");
    assert_eq!(
        (errors[2].0.as_str(), errors[2].1.as_str()),
        ("docs.jsonl", "5")
    );
    assert!(errors[2].2.contains("empty text"), "{errors:?}");

    // documents.csv has every document; entity mention counts add up.
    let docs_csv = fs::read_to_string(out.join("documents.csv")).unwrap();
    assert_eq!(docs_csv.lines().count(), 1 + 7);
    assert!(docs_csv.contains("pmid-1,docs.jsonl:1,"));
    let entities: Vec<serde_json::Value> =
        serde_json::from_str(&fs::read_to_string(out.join("entities.json")).unwrap()).unwrap();
    let total: u64 = entities
        .iter()
        .map(|e| e["mention_count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, c.mentions);
    assert_eq!(entities.len() as u64, c.entities);
}

fn table_bytes(out: &Path) -> Vec<(String, Vec<u8>)> {
    [
        "mentions.csv",
        "mentions.jsonl",
        "entities.csv",
        "entities.json",
        "documents.csv",
        "errors.csv",
    ]
    .iter()
    .map(|f| (f.to_string(), fs::read(out.join(f)).unwrap()))
    .collect()
}

#[test]
fn same_run_twice_gives_identical_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = corpus_with_gzip(tmp.path());
    run(vec![corpus.clone()], &tmp.path().join("a"), 2);
    run(vec![corpus], &tmp.path().join("b"), 2);
    assert_eq!(
        table_bytes(&tmp.path().join("a")),
        table_bytes(&tmp.path().join("b"))
    );
}

#[test]
fn one_and_two_threads_find_the_same_mentions() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = corpus_with_gzip(tmp.path());
    run(vec![corpus.clone()], &tmp.path().join("t1"), 1);
    run(vec![corpus], &tmp.path().join("t2"), 2);
    let rows = |dir: &str| -> Vec<serde_json::Value> {
        fs::read_to_string(tmp.path().join(dir).join("mentions.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (a, b) = (rows("t1"), rows("t2"));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        for k in ["doc_id", "start", "end", "text", "label", "entity_id"] {
            assert_eq!(x[k], y[k], "{k} differs: {x} vs {y}");
        }
        let (sx, sy) = (x["score"].as_f64().unwrap(), y["score"].as_f64().unwrap());
        assert!((sx - sy).abs() <= 2e-4, "scores {sx} vs {sy}");
    }
}

#[test]
fn only_requested_formats_are_written() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut opts = ExtractOptions::new(
        vec![fixture_corpus().join("docs.csv")],
        out.clone(),
        model().to_path_buf(),
    );
    opts.formats = "jsonl".parse::<Formats>().unwrap();
    extract(&opts).unwrap();
    assert!(out.join("mentions.jsonl").is_file());
    assert!(out.join("manifest.json").is_file());
    assert!(!out.join("mentions.csv").exists());
    assert!(!out.join("entities.json").exists());
}

#[test]
fn missing_model_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = ExtractOptions::new(
        vec![fixture_corpus()],
        tmp.path().join("out"),
        tmp.path().join("no-model"),
    );
    let err = format!("{:#}", extract(&opts).unwrap_err());
    assert!(err.contains("no-model") && err.contains("--model"), "{err}");
}

#[test]
fn limit_stops_after_n_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = corpus_with_gzip(tmp.path());
    let out = tmp.path().join("out");
    let mut opts = ExtractOptions::new(vec![corpus], out.clone(), model().to_path_buf());
    opts.chunk_docs = 2;
    opts.limit = Some(3);
    let summary = extract(&opts).unwrap();
    assert_eq!(summary.manifest.counts.documents, 3);
    let docs_csv = fs::read_to_string(out.join("documents.csv")).unwrap();
    // The first three documents in input order: the two abstracts, then the CSV's first row.
    let ids: Vec<&str> = docs_csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec!["abstracts/aml.txt", "abstracts/press.md", "csv-1"]
    );
}
