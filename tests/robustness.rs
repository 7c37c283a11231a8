//! Bad input and interruptions: every bad record gets a row in errors.csv (or one clear
//! message), good documents in the same run are still processed, `--strict` stops at the first
//! bad record, and a run killed with SIGKILL resumes to the same tables as an uninterrupted one.

mod common;

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use biotable::ner::backend::testing::write_random_model;
use biotable::pipeline::{extract, ExtractOptions, CHECKPOINT};
use biotable::EntityLabel;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn random_model() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        write_random_model(dir.path(), &EntityLabel::ALL, 11).unwrap();
        dir
    })
    .path()
}

fn run_lib(inputs: Vec<PathBuf>, out: &Path) -> anyhow::Result<biotable::pipeline::ExtractSummary> {
    let mut opts = ExtractOptions::new(inputs, out.to_path_buf(), random_model().to_path_buf());
    opts.threads = 2;
    opts.chunk_docs = 4;
    extract(&opts)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A folder of bad inputs, each beside good documents.
fn bad_corpus(root: &Path) {
    let w = |name: &str, bytes: &[u8]| {
        let p = root.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    };
    w("good.txt", b"Natural killer cells attack leukemia cells.");
    w("invalid-utf8.txt", b"Acute myeloid \xff\xfe leukemia");
    w("bom.txt", b"\xEF\xBB\xBFAML relapsed.");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(
        "Leucémie aiguë myéloïde à Lund."
            .encode_utf16()
            .flat_map(u16::to_le_bytes),
    );
    w("utf16.txt", &utf16);
    w(
        "control.txt",
        b"NK\x00 cells\x01 and \x07AML\x1b[0m in\ttext.",
    );
    w("empty.txt", b"");
    w("blank.md", b"  \n\t \n");
    w(
        "records.jsonl",
        concat!(
            "{\"id\": \"j1\", \"text\": \"CAR-T cells in lymphoma.\"}\n",
            "{\"id\": \"j2\", \"text\": \"unterminated\n",
            "{\"id\": \"j3\", \"text\": 42}\n",
            "{\"id\": \"j4\", \"text\": \"\"}\n",
            "{\"id\": \"j1\", \"text\": \"A second document with id j1.\"}\n",
            "{\"id\": \"rtl\", \"text\": \"سرطان الدم النخاعي الحاد and 白血病 with emoji 🧬 in Lund.\"}\n",
        )
        .as_bytes(),
    );
    w(
        "table.csv",
        b"id,text\nc1,Breast cancer cells.\nc2\nc3,\"extra\",columns,here\nc4,\"unbalanced quote\n",
    );
    let good_gz = gzip(b"{\"id\": \"gz1\", \"text\": \"Monocytes and macrophages.\"}\n");
    w("good.jsonl.gz", &good_gz);
    let mut truncated = gzip(
        "{\"id\": \"t1\", \"text\": \"Leukemia.\"}\n"
            .repeat(200)
            .as_bytes(),
    );
    truncated.truncate(truncated.len() / 2);
    w("truncated.jsonl.gz", &truncated);
    w("corrupt.txt.gz", b"this is not gzip at all");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("nowhere.txt", root.join("dangling.txt")).unwrap();
        fs::create_dir_all(root.join("loop")).unwrap();
        std::os::unix::fs::symlink("..", root.join("loop/up")).unwrap();
    }
}

#[test]
fn bad_records_are_reported_and_good_documents_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("in");
    bad_corpus(&root);
    let out = dir.path().join("out");
    let summary = run_lib(vec![root.clone()], &out).unwrap();
    let docs: Vec<String> = common::read_csv(&out.join("documents.csv"))
        .into_iter()
        .map(|r| r["doc_id"].clone())
        .collect();
    for id in [
        "good.txt",
        "bom.txt",
        "utf16.txt",
        "control.txt",
        "j1",
        "j1#2",
        "rtl",
        "c1",
        "c3",
        "gz1",
    ] {
        assert!(docs.contains(&id.to_string()), "{id} missing from {docs:?}");
    }
    assert!(
        !docs
            .iter()
            .any(|d| d == "empty.txt" || d == "blank.md" || d == "j4"),
        "{docs:?}"
    );
    let errors = common::read_csv(&out.join("errors.csv"));
    let reason_for = |file: &str, line: &str| -> String {
        errors
            .iter()
            .find(|e| e["file"] == file && e["line"] == line)
            .map(|e| e["reason"].clone())
            .unwrap_or_else(|| panic!("no error row for {file}:{line} in {errors:?}"))
    };
    assert!(reason_for("invalid-utf8.txt", "").contains("invalid UTF-8"));
    assert!(reason_for("empty.txt", "").contains("empty text"));
    assert!(reason_for("blank.md", "").contains("empty text"));
    assert!(reason_for("records.jsonl", "2").contains("malformed JSON"));
    assert!(reason_for("records.jsonl", "3").contains("is not a string"));
    assert!(reason_for("records.jsonl", "4").contains("empty text"));
    assert!(reason_for("records.jsonl", "5").contains("duplicate doc_id \"j1\""));
    assert!(reason_for("table.csv", "3").contains("no \"text\" column"));
    assert!(
        errors.iter().any(|e| e["file"] == "truncated.jsonl.gz"),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e["file"] == "corrupt.txt.gz"),
        "{errors:?}"
    );
    #[cfg(unix)]
    {
        assert!(
            errors.iter().any(|e| e["file"].contains("dangling.txt")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e["file"].contains("loop") && e["reason"].contains("loop")),
            "{errors:?}"
        );
    }
    assert_eq!(summary.manifest.counts.errors as usize, errors.len());
    // Offsets stay exact in control characters, right-to-left text, CJK and emoji.
    let texts: HashMap<String, String> = [
        (
            "control.txt",
            "NK\u{0} cells\u{1} and \u{7}AML\u{1b}[0m in\ttext.",
        ),
        (
            "rtl",
            "سرطان الدم النخاعي الحاد and 白血病 with emoji 🧬 in Lund.",
        ),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    for m in common::read_csv(&out.join("mentions.csv")) {
        if let Some(t) = texts.get(&m["doc_id"]) {
            let (s, e): (usize, usize) = (m["start"].parse().unwrap(), m["end"].parse().unwrap());
            let got: String = t.chars().skip(s).take(e - s).collect();
            assert_eq!(got, m["text"]);
        }
    }
}

#[test]
fn huge_documents_and_lines_go_through() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("in");
    fs::create_dir_all(&root).unwrap();
    // A large document without sentence punctuation, and a long single line in JSONL: 2 MB and
    // 1 MB by default, BIOTABLE_HUGE_MB=20 for the full 20 MB document and a 5 MB line.
    let mb: usize = std::env::var("BIOTABLE_HUGE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let line_mb = (mb / 4).max(1);
    let words = [
        "leukemia", "cells", "Lund", "NK", "and", "the", "CAR-T", "of",
    ];
    let mut big = String::with_capacity(mb << 20);
    let mut i = 0usize;
    while big.len() < mb << 20 {
        big.push_str(words[i % words.len()]);
        big.push(if i.is_multiple_of(17) { '\n' } else { ' ' });
        i += 1;
    }
    fs::write(root.join("big.txt"), &big).unwrap();
    let line: String = big[..line_mb << 20].replace('\n', " ");
    fs::write(
        root.join("line.jsonl"),
        format!("{}\n", serde_json::json!({"id": "line", "text": line})),
    )
    .unwrap();
    let out = dir.path().join("out");
    let s = run_lib(vec![root], &out).unwrap();
    assert_eq!(s.manifest.counts.documents, 2);
    assert_eq!(s.manifest.counts.errors, 0);
    assert!(out.join("manifest.json").exists());
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_biotable"))
}

#[test]
fn unwritable_output_is_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    fs::write(&file, "x").unwrap();
    let out = bin()
        .args(["extract", "--quiet", "--model"])
        .arg(random_model())
        .arg(repo().join("tests/fixtures/corpus"))
        .arg("--out")
        .arg(file.join("sub"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot create output folder") && err.contains("a-file"),
        "{err}"
    );
}

#[test]
fn strict_stops_at_the_first_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    fs::write(
        &input,
        "{\"id\": \"a\", \"text\": \"Lymphoma.\"}\n{bad\n{\"id\": \"b\", \"text\": \"AML.\"}\n",
    )
    .unwrap();
    let run = |strict: bool, out: &Path| {
        let mut c = bin();
        c.args(["extract", "--quiet", "--model"])
            .arg(random_model())
            .arg(&input)
            .arg("--out")
            .arg(out);
        if strict {
            c.arg("--strict");
        }
        c.output().unwrap()
    };
    let lenient = run(false, &dir.path().join("lenient"));
    assert_eq!(lenient.status.code(), Some(3), "skipped records: exit 3");
    let strict = run(true, &dir.path().join("strict"));
    assert_eq!(strict.status.code(), Some(1));
    let err = String::from_utf8_lossy(&strict.stderr);
    assert!(
        err.contains("--strict") && err.contains("in.jsonl:2"),
        "{err}"
    );
    assert!(!dir.path().join("strict/manifest.json").exists());
}

/// Every output file except the manifest (which carries timings).
fn tables(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "manifest.json")
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_killed_run_resumes_to_identical_tables() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("docs.jsonl");
    let sentences = [
        "Calidi Biotherapeutics Inc. (NYSE American: CLDI) studies acute myeloid leukemia (AML).",
        "Natural killer (NK) cells from Lund University killed AML blasts.",
        "CAR-T cells were tested in B-cell lymphoma at the National Cancer Institute.",
        "Breast cancer patients received paclitaxel.",
    ];
    let mut f = fs::File::create(&input).unwrap();
    for i in 0..480 {
        let text = format!("{} {} Case {i}.", sentences[i % 4], sentences[(i / 4) % 4]);
        let id = if i == 300 {
            "doc-7".to_string()
        } else {
            format!("doc-{i}")
        };
        writeln!(f, "{}", serde_json::json!({"id": id, "text": text})).unwrap();
        if i == 100 {
            writeln!(f, "{{not json").unwrap();
        }
    }
    drop(f);
    let model = repo().join("models/biotable-ner");
    let args = |out: &Path| -> Vec<std::ffi::OsString> {
        vec![
            "extract".into(),
            input.clone().into(),
            "--out".into(),
            out.into(),
            "--model".into(),
            model.clone().into(),
            "--threads".into(),
            "2".into(),
            "--quiet".into(),
            "--chunk-docs".into(),
            "16".into(),
            "--checkpoint-secs".into(),
            "0".into(),
        ]
    };
    let reference = dir.path().join("reference");
    let st = bin().args(args(&reference)).output().unwrap();
    assert_eq!(
        st.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );

    let killed = dir.path().join("killed");
    let mut child = bin()
        .args(args(&killed))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for a checkpoint past the bad line and the first chunks, then SIGKILL.
    let started = Instant::now();
    loop {
        if let Ok(c) = fs::read_to_string(killed.join(CHECKPOINT)) {
            let v: serde_json::Value = serde_json::from_str(&c).unwrap_or_default();
            if v["consumed"].as_u64().unwrap_or(0) >= 160 {
                break;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint came"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !killed.join("manifest.json").exists(),
        "nothing looks finished"
    );
    assert!(killed.join("mentions.csv.partial").exists());

    let resumed = bin().args(args(&killed)).arg("--resume").output().unwrap();
    assert_eq!(
        resumed.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(!killed.join(CHECKPOINT).exists());
    let (a, b) = (tables(&reference), tables(&killed));
    assert_eq!(
        a.iter().map(|x| &x.0).collect::<Vec<_>>(),
        b.iter().map(|x| &x.0).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs after resume");
    }
    let docs = common::read_csv(&killed.join("documents.csv"));
    assert_eq!(docs.len(), 480, "no document missing, none twice");

    // Resuming with other arguments is refused.
    let mut other = args(&killed);
    other.push("--no-link".into());
    fs::write(
        killed.join(CHECKPOINT),
        fs::read(reference.join("entities.json")).unwrap(),
    )
    .unwrap();
    let refused = bin().args(other).arg("--resume").output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
}
