//! A scraped press-release page of our own (tests/fixtures/scraped/press-release.md): markdown
//! links and images, an HTML link, a Title-Case headline, a company with its ticker, a
//! university followed by its country, a cookie banner, a URL, an e-mail address and a phone
//! number. `extract` with the bundled model must give exactly these mentions, with character
//! offsets into the original page.

mod common;

use std::path::Path;

use biotable::pipeline::{extract, ExtractOptions};

#[test]
fn press_release_page_gives_exact_spans() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let input = repo.join("tests/fixtures/scraped");
    let page = std::fs::read_to_string(input.join("press-release.md")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut opts = ExtractOptions::new(vec![input], out.clone(), repo.join("models/biotable-ner"));
    opts.threads = 2;
    extract(&opts).expect("the page runs");
    let rows = common::read_csv(&out.join("mentions.csv"));
    let got: Vec<(usize, usize, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["start"].parse().unwrap(),
                r["end"].parse().unwrap(),
                r["text"].clone(),
                r["label"].clone(),
            )
        })
        .collect();
    // Offsets are characters of the original page, markup included.
    let chars: Vec<char> = page.chars().collect();
    for (s, e, text, _) in &got {
        assert_eq!(&chars[*s..*e].iter().collect::<String>(), text);
    }
    // Nothing from markup, addresses or boilerplate.
    for (_, _, text, _) in &got {
        for bad in [
            "http", "www", "@", "555", "logo", "cookies", "Skip", "Policy", "Rights", "#",
        ] {
            assert!(!text.contains(bad), "{text:?} came from page furniture");
        }
    }
    let expected: Vec<(usize, usize, &str, &str)> = EXPECTED.to_vec();
    let got_ref: Vec<(usize, usize, &str, &str)> = got
        .iter()
        .map(|(s, e, t, l)| (*s, *e, t.as_str(), l.as_str()))
        .collect();
    assert_eq!(got_ref, expected);
}

/// (start, end, text, label) in page order.
const EXPECTED: &[(usize, usize, &str, &str)] = &[
    // The headline's company, whole (the body's "Calidi Biotherapeutics, Inc." stands for it;
    // the model alone tags "Calidi" as a chemical).
    (118, 140, "Calidi Biotherapeutics", "COMPANY"),
    // The headline's Title-Case disease, whole (document consistency with the body).
    (158, 186, "Chronic Lymphocytic Leukemia", "DISEASE"),
    // The company with its ticker; the exchange is an organization.
    (291, 319, "Calidi Biotherapeutics, Inc.", "COMPANY"),
    (321, 334, "NYSE American", "ORGANIZATION"),
    // The markdown link's text, without the country after the comma.
    (389, 404, "Lund University", "ORGANIZATION"),
    (446, 466, "natural killer cells", "CELL_TYPE"),
    (484, 512, "chronic lymphocytic leukemia", "DISEASE"),
    // The HTML link's text.
    (571, 600, "National Institutes of Health", "ORGANIZATION"),
    (608, 636, "Chronic lymphocytic leukemia", "DISEASE"),
];
