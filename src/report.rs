//! `biotable report`: one self-contained HTML page of a finished run (`DIR/report.html`).
//!
//! The page is `report/template.html` (styles and script inlined, no library, no network)
//! with the run's data embedded as one JSON block. Building it streams over the tables and
//! keeps a bounded sample: the top N entities per label, a few mentions of each in context,
//! the co-occurrences among them, and the documents with the most mentions, highlighted. The
//! texts come from the run's inputs (named in the manifest) or `--docs`; when they are gone,
//! the page says so and shows the mentions without context.
//!
//! Every string from the data reaches the page as JSON inside a `<script type=
//! "application/json">` block (with `<` written `\u003c`, so no text can close the block) and
//! is put into the DOM with `textContent`, never parsed as HTML.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::ingest::{discover, DocumentStream, FieldNames, Record};
use crate::types::CharIndex;

const TEMPLATE: &str = include_str!("report/template.html");
const DATA_MARK: &str = "/*BIOTABLE_DATA*/null";

/// The report file in an output folder.
pub const FILE: &str = "report.html";

/// What `biotable report` takes.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Output folder of a finished run.
    pub dir: PathBuf,
    /// Where to write the page (default `DIR/report.html`).
    pub out: Option<PathBuf>,
    /// Entities shown per label.
    pub top: usize,
    /// Mentions in context kept per entity.
    pub mentions_per_entity: usize,
    /// Documents shown highlighted.
    pub documents: usize,
    /// Where the document texts are (default: the run's inputs, from the manifest).
    pub docs: Option<Vec<PathBuf>>,
}

impl ReportOptions {
    pub fn new(dir: PathBuf) -> Self {
        ReportOptions {
            dir,
            out: None,
            top: 50,
            mentions_per_entity: 5,
            documents: 20,
            docs: None,
        }
    }
}

/// Longest document text embedded (characters); longer ones are cut and say so.
const MAX_DOC_CHARS: usize = 20_000;
/// Most co-occurrence edges drawn.
const MAX_EDGES: usize = 400;

#[derive(Debug, Deserialize)]
struct EntityCsv {
    entity_id: String,
    label: String,
    name: String,
    concept_id: Option<String>,
    ontology: Option<String>,
    xrefs: String,
    attributes: String,
    mention_count: u64,
    document_count: u64,
    surface_forms: String,
    example_doc_ids: String,
}

#[derive(Debug, Deserialize)]
struct PairCsv {
    entity_a: String,
    entity_b: String,
    sentence_count: u64,
    document_count: u64,
}

#[derive(Debug, Deserialize)]
struct MentionCsv {
    doc_id: String,
    start: usize,
    end: usize,
    text: String,
    label: String,
    entity_id: String,
}

#[derive(Debug, Deserialize)]
struct DocumentCsv {
    doc_id: String,
    mentions: u64,
}

#[derive(Serialize)]
struct EntityOut {
    id: String,
    label: String,
    name: String,
    concept_id: Option<String>,
    ontology: Option<String>,
    url: Option<String>,
    xrefs: Vec<String>,
    attributes: Vec<String>,
    mentions: u64,
    documents: u64,
    forms: Vec<String>,
    examples: Vec<String>,
}

#[derive(Serialize)]
struct LabelOut {
    label: String,
    entities: u64,
    mentions: u64,
    shown: usize,
}

#[derive(Serialize)]
struct PairOut {
    a: String,
    b: String,
    sentences: u64,
    documents: u64,
}

/// A mention in its sentence: the text before it, the mention, the text after.
#[derive(Serialize)]
struct ContextOut {
    doc: String,
    start: usize,
    end: usize,
    text: String,
    /// `[before, mention, after]` within the sentence; absent without the document text.
    context: Option<[String; 3]>,
}

#[derive(Serialize)]
struct DocOut {
    id: String,
    /// Absent when the text could not be read again.
    text: Option<String>,
    truncated: bool,
    /// `[start, end, label, entity_id]`, characters.
    mentions: Vec<(usize, usize, String, String)>,
    mention_count: u64,
}

#[derive(Serialize)]
struct SampleOut {
    top: usize,
    mentions_per_entity: usize,
    documents: usize,
    max_edges: usize,
    texts_found: bool,
    texts_from: Vec<String>,
}

#[derive(Serialize)]
struct Data {
    run: serde_json::Value,
    labels: Vec<LabelOut>,
    entities: Vec<EntityOut>,
    pairs: Vec<PairOut>,
    mentions: BTreeMap<String, Vec<ContextOut>>,
    documents: Vec<DocOut>,
    sample: SampleOut,
}

/// A link to the page of a concept: the ontology's term page, the SEC filer, a ROR search.
pub fn concept_url(concept_id: &str) -> Option<String> {
    let (prefix, local) = concept_id.split_once(':')?;
    Some(match prefix {
        "MONDO" | "CL" | "DOID" => {
            format!("http://purl.obolibrary.org/obo/{prefix}_{local}")
        }
        "CIK" => format!("https://www.sec.gov/cgi-bin/browse-edgar?action=getcompany&CIK={local}"),
        "ROR" => format!("https://ror.org/{local}"),
        "ROR-NAME" => {
            let name = local.split_once(':').map_or(local, |(_, n)| n);
            format!("https://ror.org/search?query={}", name.replace('-', "+"))
        }
        _ => return None,
    })
}

fn split_list(s: &str) -> Vec<String> {
    s.split("; ")
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

fn table(dir: &Path, name: &str) -> Result<csv::Reader<fs::File>> {
    let path = dir.join(name);
    csv::Reader::from_path(&path).with_context(|| {
        format!(
            "cannot read {} (the report reads the csv tables: run extract with --format csv or html)",
            path.display()
        )
    })
}

/// The `n` items of highest score offered (ties: the first offered), in bounded memory.
struct TopN<T> {
    n: usize,
    /// Min-heap of (score, later-is-smaller, id) of the items kept.
    heap: BinaryHeap<Reverse<(u64, Reverse<u64>)>>,
    items: HashMap<u64, T>,
    seq: u64,
}

impl<T> TopN<T> {
    fn new(n: usize) -> Self {
        TopN {
            n,
            heap: BinaryHeap::new(),
            items: HashMap::new(),
            seq: 0,
        }
    }

    fn offer(&mut self, score: u64, item: T) {
        let key = (score, Reverse(self.seq));
        self.seq += 1;
        if self.heap.len() == self.n {
            match self.heap.peek() {
                Some(Reverse(min)) if key > *min => {
                    let Reverse((_, Reverse(out))) = self.heap.pop().expect("full");
                    self.items.remove(&out);
                }
                _ => return,
            }
        }
        self.heap.push(Reverse(key));
        self.items.insert(key.1 .0, item);
    }

    /// Best first.
    fn into_sorted(mut self) -> Vec<T> {
        let mut keys: Vec<_> = self.heap.into_iter().map(|Reverse(k)| k).collect();
        keys.sort_by(|a, b| b.cmp(a));
        keys.into_iter()
            .filter_map(|(_, Reverse(id))| self.items.remove(&id))
            .collect()
    }
}

/// Write the report of the run in `opts.dir`; returns the file written.
pub fn write_report(opts: &ReportOptions) -> Result<PathBuf> {
    let dir = &opts.dir;
    let manifest: serde_json::Value = {
        let path = dir.join("manifest.json");
        let bytes = fs::read(&path).with_context(|| {
            format!(
                "cannot read {} (is {} the output folder of a finished run?)",
                path.display(),
                dir.display()
            )
        })?;
        serde_json::from_slice(&bytes).with_context(|| format!("{} is damaged", path.display()))?
    };

    // Pass 1: the top entities of each label, and every label's totals.
    let mut per_label: BTreeMap<String, (TopN<EntityCsv>, u64, u64)> = BTreeMap::new();
    for row in table(dir, "entities.csv")?.deserialize::<EntityCsv>() {
        let e = row.context("entities.csv")?;
        let slot = per_label
            .entry(e.label.clone())
            .or_insert_with(|| (TopN::new(opts.top), 0, 0));
        slot.1 += 1;
        slot.2 += e.mention_count;
        slot.0.offer(e.mention_count, e);
    }
    let mut labels = Vec::new();
    let mut entities = Vec::new();
    for (label, (top, n, m)) in per_label {
        let top = top.into_sorted();
        labels.push(LabelOut {
            label,
            entities: n,
            mentions: m,
            shown: top.len(),
        });
        for e in top {
            entities.push(EntityOut {
                url: e.concept_id.as_deref().and_then(concept_url),
                id: e.entity_id,
                label: e.label,
                name: e.name,
                concept_id: e.concept_id,
                ontology: e.ontology,
                xrefs: split_list(&e.xrefs),
                attributes: split_list(&e.attributes),
                mentions: e.mention_count,
                documents: e.document_count,
                forms: split_list(&e.surface_forms),
                examples: split_list(&e.example_doc_ids),
            });
        }
    }
    labels.sort_by(|a, b| b.mentions.cmp(&a.mentions).then(a.label.cmp(&b.label)));
    let shown: HashSet<&str> = entities.iter().map(|e| e.id.as_str()).collect();

    // Pass 2: co-occurrences among the entities shown.
    let mut edges = TopN::new(MAX_EDGES);
    for row in table(dir, "cooccurrences.csv")?.deserialize::<PairCsv>() {
        let p = row.context("cooccurrences.csv")?;
        if shown.contains(p.entity_a.as_str()) && shown.contains(p.entity_b.as_str()) {
            edges.offer(p.sentence_count, p);
        }
    }
    let pairs: Vec<PairOut> = edges
        .into_sorted()
        .into_iter()
        .map(|p| PairOut {
            a: p.entity_a,
            b: p.entity_b,
            sentences: p.sentence_count,
            documents: p.document_count,
        })
        .collect();

    // Pass 3: the documents to show (most mentions first).
    let mut top_docs = TopN::new(opts.documents);
    for row in table(dir, "documents.csv")?.deserialize::<DocumentCsv>() {
        let d = row.context("documents.csv")?;
        if d.mentions > 0 {
            top_docs.offer(d.mentions, d);
        }
    }
    let top_docs = top_docs.into_sorted();
    let doc_rank: HashMap<String, usize> = top_docs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.doc_id.clone(), i))
        .collect();

    // Pass 4: mentions of the entities shown (the first few of each) and of the documents.
    let mut samples: HashMap<String, Vec<MentionCsv>> = HashMap::new();
    let mut doc_mentions: Vec<Vec<(usize, usize, String, String)>> =
        vec![Vec::new(); top_docs.len()];
    for row in table(dir, "mentions.csv")?.deserialize::<MentionCsv>() {
        let m = row.context("mentions.csv")?;
        if let Some(&i) = doc_rank.get(&m.doc_id) {
            doc_mentions[i].push((m.start, m.end, m.label.clone(), m.entity_id.clone()));
        }
        if shown.contains(m.entity_id.as_str()) {
            let v = samples.entry(m.entity_id.clone()).or_default();
            if v.len() < opts.mentions_per_entity {
                v.push(m);
            }
        }
    }

    // Pass 5: the texts of the documents needed, read again from the inputs.
    let needed: HashSet<String> = samples
        .values()
        .flatten()
        .map(|m| m.doc_id.clone())
        .chain(doc_rank.keys().cloned())
        .collect();
    let (texts_from, fields) = match &opts.docs {
        Some(docs) => (docs.clone(), FieldNames::default()),
        // A merge's inputs are its parts, which hold no texts.
        None if manifest["command"] == "merge" => (Vec::new(), FieldNames::default()),
        None => {
            let inputs = manifest["inputs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default();
            let f = &manifest["fields"];
            let fields = FieldNames {
                id: f["id"].as_str().unwrap_or("id").to_string(),
                text: f["text"].as_str().unwrap_or("text").to_string(),
            };
            (inputs, fields)
        }
    };
    let texts = read_texts(&texts_from, &fields, &needed);

    let mut mentions = BTreeMap::new();
    for (id, ms) in samples {
        let ctx = ms
            .into_iter()
            .map(|m| ContextOut {
                context: texts
                    .get(&m.doc_id)
                    .and_then(|t| sentence_context(t, m.start, m.end)),
                doc: m.doc_id,
                start: m.start,
                end: m.end,
                text: m.text,
            })
            .collect();
        mentions.insert(id, ctx);
    }
    let documents = top_docs
        .into_iter()
        .zip(doc_mentions)
        .map(|(d, ms)| {
            let text = texts.get(&d.doc_id);
            let truncated = text.is_some_and(|t| t.chars().count() > MAX_DOC_CHARS);
            DocOut {
                text: text.map(|t| t.chars().take(MAX_DOC_CHARS).collect()),
                truncated,
                mentions: ms
                    .into_iter()
                    .filter(|m| !truncated || m.1 <= MAX_DOC_CHARS)
                    .collect(),
                mention_count: d.mentions,
                id: d.doc_id,
            }
        })
        .collect();

    let data = Data {
        run: manifest,
        labels,
        entities,
        pairs,
        mentions,
        documents,
        sample: SampleOut {
            top: opts.top,
            mentions_per_entity: opts.mentions_per_entity,
            documents: opts.documents,
            max_edges: MAX_EDGES,
            texts_found: !texts.is_empty(),
            texts_from: texts_from.iter().map(|p| p.display().to_string()).collect(),
        },
    };
    let html = render(&data)?;
    let out = opts.out.clone().unwrap_or_else(|| dir.join(FILE));
    crate::fsutil::replace_bytes(&out, html.as_bytes())?;
    Ok(out)
}

/// The page: the template with the data embedded.
fn render(data: &Data) -> Result<String> {
    let json = embed_json(&serde_json::to_string(data)?);
    if !TEMPLATE.contains(DATA_MARK) {
        bail!("the report template has no data mark");
    }
    Ok(TEMPLATE.replacen(DATA_MARK, &json, 1))
}

/// JSON safe inside `<script type="application/json">`: no `<` (so neither `</script>` nor
/// `<!--` can appear), and no U+2028/U+2029.
fn embed_json(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Texts of the `needed` documents, read from `inputs` (missing or unreadable inputs give
/// no texts; the page says so).
fn read_texts(
    inputs: &[PathBuf],
    fields: &FieldNames,
    needed: &HashSet<String>,
) -> HashMap<String, String> {
    let mut texts = HashMap::new();
    if inputs.is_empty() || needed.is_empty() || inputs.iter().any(|p| p.as_os_str() == "-") {
        return texts;
    }
    let (files, _) = discover(inputs);
    for record in DocumentStream::new(files, fields.clone()) {
        if let Record::Doc(d) = record {
            if needed.contains(&d.id) && !texts.contains_key(&d.id) {
                texts.insert(d.id, d.text);
                if texts.len() == needed.len() {
                    break;
                }
            }
        }
    }
    texts
}

/// The sentence around character span `[start, end)` of `text`, cut in three.
fn sentence_context(text: &str, start: usize, end: usize) -> Option<[String; 3]> {
    let index = CharIndex::new(text);
    let (bs, be) = (index.byte_offset(start), index.byte_offset(end));
    if bs > be || be > text.len() || !text.is_char_boundary(bs) || !text.is_char_boundary(be) {
        return None;
    }
    let masked = crate::hygiene::mask(text);
    let sentence = crate::segment::split_sentences(&masked)
        .into_iter()
        .find(|s| s.start <= bs && be <= s.end)
        .unwrap_or(crate::types::Span::new(bs, be));
    // Long sentences are cut to 300 bytes either side (at char boundaries).
    let mut from = sentence.start.max(bs.saturating_sub(300));
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let mut to = sentence.end.min(be + 300).min(text.len());
    while !text.is_char_boundary(to) {
        to -= 1;
    }
    Some([
        collapse(&text[from..bs]).trim_start().to_string(),
        text[bs..be].to_string(),
        collapse(&text[be..to]).trim_end().to_string(),
    ])
}

/// Runs of whitespace (line breaks included) as one space, ends kept.
fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_its_script_block() {
        let hostile = r#"</script><script>alert(1)</script><!-- & "#;
        let json = serde_json::to_string(&serde_json::json!({ "t": hostile })).unwrap();
        let embedded = embed_json(&json);
        assert!(!embedded.contains('<') && !embedded.contains('>'));
        let back: serde_json::Value = serde_json::from_str(&embedded).unwrap();
        assert_eq!(back["t"], hostile);
    }

    #[test]
    fn context_is_the_sentence_around_the_mention() {
        let text = "First one. Patients with gout were seen 🎉 today. Last.";
        let start = text.find("gout").unwrap();
        let [before, m, after] = sentence_context(text, start, start + 4).unwrap();
        assert_eq!(m, "gout");
        assert_eq!(before, "Patients with ");
        assert_eq!(after, " were seen 🎉 today.");
        // Character offsets, after an emoji (4 bytes, 1 character).
        let s = text.chars().count() - 5;
        let [_, last, _] = sentence_context(text, s, s + 4).unwrap();
        assert_eq!(last, "Last");
        assert!(sentence_context(text, 3, 999).is_none());
    }

    #[test]
    fn top_n_keeps_the_highest_first_seen_on_ties() {
        let mut t = TopN::new(2);
        for (score, name) in [(1, "a"), (5, "b"), (3, "c"), (5, "d"), (2, "e")] {
            t.offer(score, name);
        }
        assert_eq!(t.into_sorted(), vec!["b", "d"]);
    }

    #[test]
    fn concept_links() {
        assert_eq!(
            concept_url("MONDO:0018874").unwrap(),
            "http://purl.obolibrary.org/obo/MONDO_0018874"
        );
        assert!(concept_url("CIK:0001855485")
            .unwrap()
            .contains("CIK=0001855485"));
        assert!(concept_url("ROR-NAME:SE:lund-university")
            .unwrap()
            .ends_with("query=lund+university"));
        assert_eq!(concept_url("nothing"), None);
    }
}
