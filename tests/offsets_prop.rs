//! Property test: on random Unicode documents, every mention's text equals the document's
//! characters at [start, end), and spans are well-formed and ordered.

use std::sync::OnceLock;

use biotable::ner::backend::testing::write_random_model;
use biotable::ner::model::ModelDir;
use biotable::ner::{NerEngine, NerOptions};
use biotable::{DocSource, Document, EntityLabel};
use proptest::prelude::*;

fn engine() -> &'static NerEngine {
    static ENGINE: OnceLock<(tempfile::TempDir, NerEngine)> = OnceLock::new();
    &ENGINE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            write_random_model(dir.path(), &EntityLabel::ALL, 11).unwrap();
            let engine = NerEngine::load(
                &ModelDir(dir.path().to_path_buf()),
                NerOptions {
                    batch_tokens: 512,
                    ..NerOptions::default()
                },
            )
            .unwrap();
            (dir, engine)
        })
        .1
}

/// Words from several scripts, emoji, punctuation and odd whitespace.
fn doc_text() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        "[a-zA-Z]{1,12}",
        "[A-Z][a-z]{1,8}\\.",
        "\\PC{1,6}",
        "[\\u{4E00}-\\u{9FFF}]{1,5}",
        "[\\u{05D0}-\\u{05EA}]{1,6}",
        "[\\u{1F300}-\\u{1F6FF}]{1,3}",
        "[0-9]{1,4}(\\.[0-9])?",
        "[(),;:.!?\"'-]",
    ];
    let sep = prop_oneof![
        Just(" "),
        Just(" "),
        Just("\n"),
        Just("\n\n"),
        Just("\t"),
        Just(". "),
        Just("\u{00A0}")
    ];
    prop::collection::vec((word, sep), 0..80)
        .prop_map(|parts| parts.into_iter().map(|(w, s)| format!("{w}{s}")).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn mention_text_is_the_documents_chars(texts in prop::collection::vec(doc_text(), 1..6)) {
        let docs: Vec<Document> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Document { id: i.to_string(), source: DocSource { path: "p".into(), line: None }, text: t.clone() })
            .collect();
        let anns = engine().annotate(&docs).unwrap();
        prop_assert_eq!(anns.len(), docs.len());
        for (doc, ann) in docs.iter().zip(&anns) {
            let chars: Vec<char> = doc.text.chars().collect();
            let mut last_end = 0;
            for (sentence, m) in &ann.mentions {
                prop_assert!(m.span.start < m.span.end && m.span.end <= chars.len());
                prop_assert!(m.span.start >= last_end, "mentions overlap or are out of order");
                last_end = m.span.end;
                let slice: String = chars[m.span.start..m.span.end].iter().collect();
                prop_assert_eq!(&slice, &m.text);
                let s = ann.sentences[*sentence];
                prop_assert!(s.start <= m.span.start && m.span.end <= s.end, "mention outside its sentence");
            }
            for s in &ann.sentences {
                let slice: String = chars[s.start..s.end].iter().collect();
                prop_assert!(!slice.trim().is_empty());
            }
        }
    }
}
