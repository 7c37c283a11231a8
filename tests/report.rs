//! `report.html` without a browser (the browser test is scripts/test-report.sh): written by
//! `extract --format html`, self-contained, the hostile document's markup only inside the
//! escaped data block, and a run whose inputs are gone still gets a page that says so.

use std::fs;
use std::path::Path;

use biotable::pipeline::{extract, ExtractOptions};
use biotable::report::{write_report, ReportOptions};

fn model() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/biotable-ner")
}

/// The JSON data block of a page.
fn data(page: &str) -> serde_json::Value {
    let start = page.find(r#"id="biotable-data">"#).unwrap() + r#"id="biotable-data">"#.len();
    let end = start + page[start..].find("</script>").unwrap();
    let block = &page[start..end];
    assert!(!block.contains('<'), "the data block holds a raw '<'");
    serde_json::from_str(block).unwrap()
}

#[test]
fn report_is_self_contained_and_escapes_documents() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    fs::create_dir(&docs).unwrap();
    let hostile =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/report/hostile.txt"))
            .unwrap();
    fs::write(docs.join("hostile.txt"), &hostile).unwrap();
    fs::write(
        docs.join("plain.txt"),
        "Patients with acute myeloid leukemia received natural killer cells.",
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut opts = ExtractOptions::new(vec![docs.clone()], out.clone(), model());
    opts.formats = "html".parse().unwrap();
    extract(&opts).unwrap();
    let page = fs::read_to_string(out.join("report.html")).unwrap();
    // No outside resource: no src/href to another origin is loaded, no library.
    for loads in ["<script src", "<link ", "@import", "<iframe"] {
        assert!(!page.contains(loads), "{loads}");
    }
    assert!(page.contains("default-src 'none'"));
    // The hostile markup is nowhere in the page as markup, only as escaped data.
    assert!(!page.contains("<script>document.title"));
    assert!(!page.contains("onerror=\"document"));
    let d = data(&page);
    let texts: Vec<&str> = d["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["text"].as_str())
        .collect();
    assert!(
        texts.contains(&hostile.as_str()),
        "the texts round-trip exactly"
    );
    assert_eq!(d["run"]["counts"]["documents"], 2);
    assert_eq!(d["sample"]["texts_found"], true);

    // The inputs are gone: the page is still written, and says it has no texts.
    fs::remove_dir_all(&docs).unwrap();
    let again = dir.path().join("again.html");
    let mut r = ReportOptions::new(out.clone());
    r.out = Some(again.clone());
    write_report(&r).unwrap();
    let d = data(&fs::read_to_string(&again).unwrap());
    assert_eq!(d["sample"]["texts_found"], false);
    assert!(d["documents"][0]["text"].is_null());

    // Not a run folder: one message naming it.
    let err = write_report(&ReportOptions::new(dir.path().to_path_buf()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("manifest.json"), "{err}");
}
