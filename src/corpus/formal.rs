//! `formal-orgs`: six small cased corpora of formal English (Wikipedia, Wikinews, academic,
//! court and news text) with organization labels, read into one corpus with a stable held-out
//! split by document.
//!
//! | source | format | organization tags |
//! | --- | --- | --- |
//! | CrossNER (5 domains) | `token<TAB>BIO` | `organisation`, `university`, `politicalparty`; `band` masked |
//! | Re-DocRED (dev, test) | JSON documents, `vertexSet` token spans | `ORG` |
//! | WikiGold | `token tag`, IOB1 | `ORG` |
//! | GUM (licence-OK genres) | CoNLL-U, `Entity=` brackets in MISC | `organization` with a proper noun inside, leading determiners dropped |
//! | grobid-ner (Wikipedia) | inline `<ENAMEX type=…>` XML | `INSTITUTION`, `ORGANISATION`; `BUSINESS` → COMPANY |
//! | UNER English-PUD | `index<TAB>token<TAB>IOB2` | `ORG` |
//!
//! Only grobid-ner tells companies from other organizations. A generic organization span
//! teaches the ORGANIZATION head and is masked for the COMPANY head (it may be a company), so the
//! COMPANY head still learns "not a company" everywhere outside organization names; SEC/ROR and
//! legal-form evidence decide the label after the model (see `normalize::org`).
//!
//! Bands (CrossNER's `band`) are masked: analysts of biomedical news never ask for them, and the
//! sources disagree (Re-DocRED counts bands and sports teams as ORG, which we keep because it
//! does not mark them apart). Masking neither teaches the model that a band is an organization nor
//! that it is nothing.
//!
//! Split: every document (a Re-DocRED or GUM document, a WikiGold `-DOCSTART-` article, a
//! grobid-ner paragraph, a UNER `newdoc`, a CrossNER sentence: CrossNER has no document ids) goes
//! to test, dev or train by a stable hash of its source and key: 10% / 10% / 80%.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::{bio_chunks, join_tokens, stable_hash, Sentence};
use crate::types::{EntityLabel, Span};

/// What an organization tag becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum OrgTag {
    /// An organization of any kind: ORGANIZATION, COMPANY head masked.
    Org,
    Company,
    /// Masked for every head.
    Ignore,
}

/// A sentence of tokens with entity token ranges `[start, end)`.
struct Tokens {
    tokens: Vec<String>,
    spans: Vec<(usize, usize, OrgTag)>,
}

impl Tokens {
    fn into_sentence(self) -> Sentence {
        let (text, at) = join_tokens(&self.tokens);
        let mut s = Sentence {
            text,
            tokens: self.tokens,
            entities: Vec::new(),
            ignored: Vec::new(),
            masked: Vec::new(),
        };
        for (a, b, tag) in self.spans {
            if a >= b || b > at.len() {
                continue;
            }
            let span = Span::new(at[a].start, at[b - 1].end);
            push_span(&mut s, span, tag);
        }
        s
    }
}

fn push_span(s: &mut Sentence, span: Span, tag: OrgTag) {
    match tag {
        OrgTag::Org => {
            s.entities.push((span, EntityLabel::Organization));
            s.masked.push((span, EntityLabel::Company));
        }
        OrgTag::Company => s.entities.push((span, EntityLabel::Company)),
        OrgTag::Ignore => s.ignored.push(span),
    }
}

/// Load `train`, `dev` or `test` of formal-orgs from `data_dir/formal-orgs`.
pub fn load(data_dir: &Path, split: &str) -> Result<Vec<Sentence>> {
    let want = match split {
        "test" => 0,
        "dev" => 1,
        "train" => 2,
        _ => bail!("corpus formal-orgs has no {split} split (train, dev, test)"),
    };
    let root = data_dir.join("formal-orgs");
    if !root.is_dir() {
        bail!(
            "cannot open {} (training and evaluation read the corpora in ../shared/data; pass --data DIR to point elsewhere)",
            root.display()
        );
    }
    let mut docs: Vec<(String, Vec<Sentence>)> = Vec::new();
    docs.extend(crossner(&root)?);
    docs.extend(re_docred(&root)?);
    docs.extend(wikigold(&root)?);
    docs.extend(gum(&root)?);
    docs.extend(grobid(&root)?);
    docs.extend(uner(&root)?);
    Ok(docs
        .into_iter()
        .filter(|(key, _)| split_of(key) == want)
        .flat_map(|(_, s)| s)
        .filter(|s| !s.tokens.is_empty())
        .collect())
}

/// 0 test, 1 dev, 2 train.
fn split_of(key: &str) -> u8 {
    match stable_hash(&format!("formal-orgs:{key}")) % 10 {
        0 => 0,
        1 => 1,
        _ => 2,
    }
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Token ranges of BIO chunks whose type `map` keeps.
fn bio_spans(tags: &[String], map: impl Fn(&str) -> Option<OrgTag>) -> Vec<(usize, usize, OrgTag)> {
    bio_chunks(tags)
        .into_iter()
        .filter_map(|(i, j, kind)| map(kind).map(|t| (i, j, t)))
        .collect()
}

/// The files of `dir` ending in `.ext`, sorted.
fn files_with_extension(dir: &Path, ext: &str) -> Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    Ok(files)
}

fn crossner(root: &Path) -> Result<Vec<(String, Vec<Sentence>)>> {
    let map = |k: &str| match k {
        "organisation" | "university" | "politicalparty" => Some(OrgTag::Org),
        "band" => Some(OrgTag::Ignore),
        _ => None,
    };
    let mut out = Vec::new();
    for domain in ["ai", "literature", "music", "politics", "science"] {
        for split in ["train", "dev", "test"] {
            let path = root.join(format!("crossner/{domain}/{split}.txt"));
            let text = read(&path)?;
            for block in text.split("\n\n") {
                let mut tokens = Vec::new();
                let mut tags = Vec::new();
                for line in block.lines().filter(|l| !l.trim().is_empty()) {
                    let Some((tok, tag)) = line.split_once('\t') else {
                        bail!("{}: expected token<TAB>tag, got {line:?}", path.display());
                    };
                    tokens.push(tok.to_string());
                    tags.push(tag.trim().to_string());
                }
                let spans = bio_spans(&tags, map);
                let s = Tokens { tokens, spans }.into_sentence();
                out.push((format!("crossner:{}", s.text), vec![s]));
            }
        }
    }
    Ok(out)
}

fn re_docred(root: &Path) -> Result<Vec<(String, Vec<Sentence>)>> {
    #[derive(serde::Deserialize)]
    struct Mention {
        #[serde(rename = "type")]
        kind: String,
        pos: (usize, usize),
        sent_id: usize,
    }
    #[derive(serde::Deserialize)]
    struct Doc {
        title: String,
        sents: Vec<Vec<String>>,
        #[serde(rename = "vertexSet")]
        vertex_set: Vec<Vec<Mention>>,
    }
    let mut out = Vec::new();
    for f in ["dev_revised.json", "test_revised.json"] {
        let path = root.join("re-docred").join(f);
        let docs: Vec<Doc> = serde_json::from_str(&read(&path)?)
            .with_context(|| format!("parsing {}", path.display()))?;
        for d in docs {
            let mut spans: Vec<Vec<(usize, usize, OrgTag)>> = vec![Vec::new(); d.sents.len()];
            for m in d.vertex_set.iter().flatten() {
                if m.kind == "ORG" && m.sent_id < spans.len() {
                    spans[m.sent_id].push((m.pos.0, m.pos.1, OrgTag::Org));
                }
            }
            let sentences = d
                .sents
                .into_iter()
                .zip(spans)
                .map(|(tokens, mut spans)| {
                    spans.sort();
                    spans.dedup();
                    Tokens { tokens, spans }.into_sentence()
                })
                .collect();
            out.push((format!("re-docred:{}", d.title), sentences));
        }
    }
    Ok(out)
}

fn wikigold(root: &Path) -> Result<Vec<(String, Vec<Sentence>)>> {
    let path = root.join("wikigold/wikigold.conll.txt");
    let text = read(&path)?;
    let map = |k: &str| (k == "ORG").then_some(OrgTag::Org);
    let mut out: Vec<(String, Vec<Sentence>)> = Vec::new();
    let mut doc: Vec<Sentence> = Vec::new();
    let mut tokens = Vec::new();
    let mut tags: Vec<String> = Vec::new();
    let flush = |tokens: &mut Vec<String>, tags: &mut Vec<String>, doc: &mut Vec<Sentence>| {
        if !tokens.is_empty() {
            let spans = bio_spans(tags, map);
            doc.push(
                Tokens {
                    tokens: std::mem::take(tokens),
                    spans,
                }
                .into_sentence(),
            );
            tags.clear();
        }
    };
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("-DOCSTART-") {
            flush(&mut tokens, &mut tags, &mut doc);
            if !doc.is_empty() {
                let key = format!("wikigold:{}", doc[0].text);
                out.push((key, std::mem::take(&mut doc)));
            }
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut tokens, &mut tags, &mut doc);
            continue;
        }
        let Some((tok, tag)) = line.rsplit_once(' ') else {
            bail!("{}:{}: expected `token tag`", path.display(), n + 1);
        };
        tokens.push(tok.to_string());
        tags.push(tag.to_string());
    }
    flush(&mut tokens, &mut tags, &mut doc);
    if !doc.is_empty() {
        let key = format!("wikigold:{}", doc[0].text);
        out.push((key, doc));
    }
    Ok(out)
}

/// GUM: CoNLL-U; entities open with `(ID-type-…` and close with `ID)` in the MISC column's
/// `Entity=` value, nested. Organization mentions with a proper noun (UPOS PROPN) are kept,
/// leading determiners dropped ("the Chicago White Sox" → "Chicago White Sox").
fn gum(root: &Path) -> Result<Vec<(String, Vec<Sentence>)>> {
    let mut out = Vec::new();
    for path in files_with_extension(&root.join("gum/dep"), "conllu")? {
        let text = read(&path)?;
        let mut doc = Vec::new();
        for block in text.split("\n\n") {
            let mut tokens: Vec<String> = Vec::new();
            let mut upos: Vec<String> = Vec::new();
            let mut open: Vec<(String, bool, usize)> = Vec::new(); // id, is organization, start
            let mut spans = Vec::new();
            for line in block.lines() {
                if line.starts_with('#') || line.trim().is_empty() {
                    continue;
                }
                let f: Vec<&str> = line.split('\t').collect();
                if f.len() < 10 || f[0].contains('-') || f[0].contains('.') {
                    continue; // multi-word token ranges and empty nodes
                }
                let i = tokens.len();
                tokens.push(f[1].to_string());
                upos.push(f[3].to_string());
                let Some(ent) = f[9].split('|').find_map(|kv| kv.strip_prefix("Entity=")) else {
                    continue;
                };
                // Openings "(ID-type-…" possibly closed on the same token "…)", closings "ID)".
                let mut rest = ent;
                while !rest.is_empty() {
                    if let Some(r) = rest.strip_prefix('(') {
                        let end = r.find(['(', ')']).unwrap_or(r.len());
                        let body = &r[..end];
                        let mut parts = body.split('-');
                        let id = parts.next().unwrap_or("").to_string();
                        let org = parts.next() == Some("organization");
                        if r[end..].starts_with(')') {
                            if org {
                                spans.push((i, i + 1));
                            }
                            rest = &r[end + 1..];
                        } else {
                            open.push((id, org, i));
                            rest = &r[end..];
                        }
                    } else {
                        let end = rest.find(')').map_or(rest.len(), |e| e + 1);
                        let id = rest[..end].trim_end_matches(')');
                        if let Some(k) = open.iter().rposition(|(o, _, _)| o == id) {
                            let (_, org, start) = open.remove(k);
                            if org {
                                spans.push((start, i + 1));
                            }
                        }
                        rest = &rest[end..];
                    }
                }
            }
            let spans = spans
                .into_iter()
                .filter(|&(a, b)| upos[a..b].iter().any(|u| u == "PROPN"))
                .map(|(mut a, b)| {
                    while a < b && upos[a] == "DET" {
                        a += 1;
                    }
                    (a, b, OrgTag::Org)
                })
                .collect();
            if !tokens.is_empty() {
                doc.push(Tokens { tokens, spans }.into_sentence());
            }
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        out.push((format!("gum:{name}"), doc));
    }
    Ok(out)
}

/// grobid-ner: `<sentence …>text <ENAMEX type="T" …>name</ENAMEX> …</sentence>`; the split
/// unit is a paragraph (the corpus has six documents only).
fn grobid(root: &Path) -> Result<Vec<(String, Vec<Sentence>)>> {
    let files = files_with_extension(&root.join("grobid-ner"), "xml")?;
    let map = |t: &str| match t {
        "INSTITUTION" | "ORGANISATION" => Some(OrgTag::Org),
        "BUSINESS" => Some(OrgTag::Company),
        _ => None,
    };
    let mut out: Vec<(String, Vec<Sentence>)> = Vec::new();
    for path in files {
        let xml = read(&path)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let mut paragraph = 0usize;
        let mut rest = xml.as_str();
        while let Some(at) = rest.find('<') {
            let tag_end = rest[at..]
                .find('>')
                .map(|e| at + e)
                .with_context(|| format!("{}: unterminated tag", path.display()))?;
            let tag = &rest[at + 1..tag_end];
            if tag.starts_with("p ") || tag.starts_with("paragraph") {
                paragraph += 1;
            }
            if !tag.starts_with("sentence") {
                rest = &rest[tag_end + 1..];
                continue;
            }
            let body_end = rest[tag_end..]
                .find("</sentence>")
                .map(|e| tag_end + e)
                .with_context(|| format!("{}: unterminated sentence", path.display()))?;
            let s = grobid_sentence(&rest[tag_end + 1..body_end], map);
            let key = format!("grobid:{name}:{paragraph}");
            match out.last_mut() {
                Some((k, v)) if *k == key => v.push(s),
                _ => out.push((key, vec![s])),
            }
            rest = &rest[body_end + "</sentence>".len()..];
        }
    }
    Ok(out)
}

fn unescape(s: &str) -> String {
    s.replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// One grobid sentence body; whitespace runs collapse to one space, like the token corpora.
fn grobid_sentence(body: &str, map: impl Fn(&str) -> Option<OrgTag>) -> Sentence {
    let mut text = String::new();
    let mut spans = Vec::new();
    let mut open: Option<(usize, Option<OrgTag>)> = None;
    let push_text = |text: &mut String, raw: &str| {
        for c in unescape(raw).chars() {
            if !c.is_whitespace() {
                text.push(c);
            } else if !text.is_empty() && !text.ends_with(' ') {
                text.push(' ');
            }
        }
    };
    let mut rest = body;
    while !rest.is_empty() {
        let next = rest.find('<').unwrap_or(rest.len());
        push_text(&mut text, &rest[..next]);
        rest = &rest[next..];
        if rest.is_empty() {
            break;
        }
        let end = rest.find('>').unwrap_or(rest.len() - 1);
        let tag = &rest[1..end];
        if let Some(attrs) = tag.strip_prefix("ENAMEX") {
            let kind = attrs
                .split("type=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("");
            open = Some((text.len(), map(kind)));
        } else if tag == "/ENAMEX" {
            if let Some((start, Some(t))) = open.take() {
                let end = text.trim_end().len();
                if start < end {
                    spans.push((Span::new(start, end), t));
                }
            }
        }
        rest = &rest[end + 1..];
    }
    let text = text.trim_end().to_string();
    let tokens = text.split(' ').map(String::from).collect();
    let mut s = Sentence {
        text,
        tokens,
        entities: Vec::new(),
        ignored: Vec::new(),
        masked: Vec::new(),
    };
    for (span, t) in spans {
        push_span(&mut s, span, t);
    }
    s
}

fn uner(root: &Path) -> Result<Vec<(String, Vec<Sentence>)>> {
    let path = root.join("uner-en-pud/en_pud-ud-test.iob2");
    let text = read(&path)?;
    let map = |k: &str| (k == "ORG").then_some(OrgTag::Org);
    let mut out: Vec<(String, Vec<Sentence>)> = Vec::new();
    let mut doc_key = String::from("uner:start");
    for block in text.split("\n\n") {
        let mut tokens = Vec::new();
        let mut tags = Vec::new();
        for line in block.lines() {
            if let Some(id) = line.strip_prefix("# newdoc id = ") {
                doc_key = format!("uner:{}", id.trim());
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 3 {
                bail!(
                    "{}: expected index<TAB>token<TAB>tag, got {line:?}",
                    path.display()
                );
            }
            tokens.push(f[1].to_string());
            tags.push(f[2].to_string());
        }
        if tokens.is_empty() {
            continue;
        }
        let spans = bio_spans(&tags, map);
        let s = Tokens { tokens, spans }.into_sentence();
        match out.last_mut() {
            Some((k, v)) if *k == doc_key => v.push(s),
            _ => out.push((doc_key.clone(), vec![s])),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn surfaces(s: &Sentence) -> Vec<(&str, EntityLabel)> {
        s.entities
            .iter()
            .map(|(sp, l)| (&s.text[sp.start..sp.end], *l))
            .collect()
    }

    #[test]
    fn grobid_sentences_keep_institutions_and_businesses() {
        let map = |t: &str| match t {
            "INSTITUTION" => Some(OrgTag::Org),
            "BUSINESS" => Some(OrgTag::Company),
            _ => None,
        };
        let s = grobid_sentence(
            "The <ENAMEX type=\"INSTITUTION\">European Union</ENAMEX> and <ENAMEX type=\"BUSINESS\">Standard &amp; Poor&apos;s</ENAMEX>, in <ENAMEX type=\"LOCATION\">UK</ENAMEX>.",
            map,
        );
        assert_eq!(s.text, "The European Union and Standard & Poor's, in UK.");
        assert_eq!(
            surfaces(&s),
            vec![
                ("European Union", EntityLabel::Organization),
                ("Standard & Poor's", EntityLabel::Company)
            ]
        );
        assert_eq!(
            s.masked.len(),
            1,
            "a generic organization masks the COMPANY head"
        );
    }

    #[test]
    fn bio_spans_read_iob1_and_iob2() {
        let tags: Vec<String> = ["I-ORG", "I-ORG", "O", "B-ORG", "I-PER", "I-ORG"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let spans = bio_spans(&tags, |k| (k == "ORG").then_some(OrgTag::Org));
        assert_eq!(
            spans,
            vec![
                (0, 2, OrgTag::Org),
                (3, 4, OrgTag::Org),
                (5, 6, OrgTag::Org)
            ]
        );
    }

    #[test]
    fn splits_are_stable_and_disjoint() {
        let keys: Vec<String> = (0..2000).map(|i| format!("doc{i}")).collect();
        let n = |want| keys.iter().filter(|k| split_of(k) == want).count();
        assert!((150..250).contains(&n(0)) && (150..250).contains(&n(1)));
        assert_eq!(n(0) + n(1) + n(2), keys.len());
        assert_eq!(
            split_of("gum:GUM_news_afghan.conllu"),
            split_of("gum:GUM_news_afghan.conllu")
        );
    }
}
