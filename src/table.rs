//! The knowledge table: mentions aggregated into entities, and entities mentioned together.
//!
//! Entities are numbered in order of first appearance (`E000001`, …), so ids are stable for a
//! given input order; rows come out sorted by mention count (then id). Co-occurrences are
//! pairs of distinct entities in one sentence, counted once per sentence and per document.
//! Memory grows with distinct entities and pairs, never with mentions.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::normalize::lexicon::{Concept, Ontology};
use crate::normalize::EntityKey;
use crate::types::EntityLabel;

/// Example document ids kept per entity and per pair.
pub const EXAMPLES: usize = 3;

/// The ontology side of a linked entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConceptInfo {
    pub concept_id: String,
    pub ontology: Ontology,
    /// MeSH, DOID, OMIM cross-references.
    pub xrefs: Vec<String>,
    /// ticker / exchange (SEC), country / types (ROR).
    pub attributes: Vec<(String, String)>,
}

impl From<&Concept> for ConceptInfo {
    fn from(c: &Concept) -> Self {
        ConceptInfo {
            concept_id: c.id.clone(),
            ontology: c.ontology,
            xrefs: c.xrefs.clone(),
            attributes: c.attrs.clone(),
        }
    }
}

/// Documents that mention something: counted once each (documents come in increasing
/// order), the first [`EXAMPLES`] ids kept.
#[derive(Debug, Serialize, Deserialize)]
struct DocTally {
    count: u64,
    /// Number of the last document seen.
    last: u64,
    examples: Vec<String>,
}

impl Default for DocTally {
    fn default() -> Self {
        DocTally {
            count: 0,
            last: u64::MAX,
            examples: Vec::new(),
        }
    }
}

impl DocTally {
    fn see(&mut self, doc: u64, doc_id: &str) {
        if self.last != doc {
            self.count += 1;
            self.last = doc;
            if self.examples.len() < EXAMPLES {
                self.examples.push(doc_id.to_string());
            }
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct EntityAgg {
    key: EntityKey,
    label: EntityLabel,
    name: String,
    concept: Option<ConceptInfo>,
    mentions: u64,
    documents: DocTally,
    surface_forms: HashMap<String, u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PairAgg {
    sentences: u64,
    documents: DocTally,
}

/// One row of entities.csv / entities.json, borrowed from the table (exporting copies no
/// names, concepts or ids).
#[derive(Debug, Clone, PartialEq)]
pub struct EntityRow<'a> {
    /// Position in the table (what [`EntityTable::add`] returned and [`PairRow`] refers to).
    pub index: usize,
    pub entity_id: String,
    pub label: EntityLabel,
    pub name: &'a str,
    pub concept: Option<&'a ConceptInfo>,
    pub mention_count: u64,
    pub document_count: u64,
    /// Surface forms, most frequent first (ties alphabetical), with counts.
    pub surface_forms: Vec<(&'a str, u64)>,
    /// The first documents that mention it.
    pub example_doc_ids: &'a [String],
}

/// One row of cooccurrences.csv: entities `a` < `b` (by id).
#[derive(Debug, Clone, PartialEq)]
pub struct PairRow<'a> {
    pub a: usize,
    pub b: usize,
    pub sentence_count: u64,
    pub document_count: u64,
    pub example_doc_ids: &'a [String],
}

/// What one mention adds to the table.
pub struct MentionEntity<'a> {
    pub key: EntityKey,
    pub label: EntityLabel,
    /// Display name (the concept's name when linked).
    pub name: &'a str,
    pub concept: Option<&'a Concept>,
    pub surface: &'a str,
}

/// Aggregates mentions into entities and sentence co-occurrences.
///
/// It serializes (for checkpoints) as its entities in id order and its pairs sorted, written
/// straight from the table without an intermediate copy.
#[derive(Debug, Default)]
pub struct EntityTable {
    index: HashMap<EntityKey, usize>,
    entities: Vec<EntityAgg>,
    pairs: HashMap<(u32, u32), PairAgg>,
}

pub fn entity_id(index: usize) -> String {
    format!("E{:06}", index + 1)
}

impl EntityTable {
    /// Record a mention in document number `doc` (documents in increasing order, `doc_id` its
    /// id); returns the entity's index (see [`entity_id`]).
    pub fn add(&mut self, m: MentionEntity, doc: u64, doc_id: &str) -> usize {
        let i = match self.index.get(&m.key) {
            Some(&i) => i,
            None => {
                let i = self.entities.len();
                self.index.insert(m.key.clone(), i);
                self.entities.push(EntityAgg {
                    key: m.key,
                    label: m.label,
                    name: m.name.to_string(),
                    concept: m.concept.map(ConceptInfo::from),
                    mentions: 0,
                    documents: DocTally::default(),
                    surface_forms: HashMap::new(),
                });
                i
            }
        };
        let e = &mut self.entities[i];
        e.mentions += 1;
        e.documents.see(doc, doc_id);
        *e.surface_forms.entry(m.surface.to_string()).or_default() += 1;
        i
    }

    /// Record the entities of one sentence (indices from [`EntityTable::add`]; repeats are
    /// fine): every pair of distinct entities co-occurs once.
    pub fn add_sentence(&mut self, entities: &[usize], doc: u64, doc_id: &str) {
        let mut ids: Vec<u32> = entities.iter().map(|&i| i as u32).collect();
        ids.sort_unstable();
        ids.dedup();
        for (x, &a) in ids.iter().enumerate() {
            for &b in &ids[x + 1..] {
                let p = self.pairs.entry((a, b)).or_default();
                p.sentences += 1;
                p.documents.see(doc, doc_id);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    pub fn pair_count(&self) -> usize {
        self.pairs.len()
    }

    /// An estimate of the heap the table holds, in bytes: string and vector capacities and
    /// hash-table buckets, without allocator overhead. For memory reports.
    pub fn heap_bytes(&self) -> usize {
        fn string(s: &str) -> usize {
            s.len()
        }
        fn strings(v: &Vec<String>) -> usize {
            v.capacity() * size_of::<String>() + v.iter().map(|s| string(s)).sum::<usize>()
        }
        fn map<K, V>(m: &HashMap<K, V>) -> usize {
            // hashbrown: buckets ≈ capacity × 8/7, one control byte each.
            m.capacity() * 8 / 7 * (size_of::<(K, V)>() + 1)
        }
        let key = |k: &EntityKey| match k {
            EntityKey::Concept(_) => 0,
            EntityKey::Name { key, .. } => string(key),
        };
        let entities: usize = self
            .entities
            .iter()
            .map(|e| {
                key(&e.key)
                    + string(&e.name)
                    + e.concept.as_ref().map_or(0, |c| {
                        size_of::<ConceptInfo>()
                            + string(&c.concept_id)
                            + strings(&c.xrefs)
                            + c.attributes
                                .iter()
                                .map(|(k, v)| size_of::<(String, String)>() + k.len() + v.len())
                                .sum::<usize>()
                    })
                    + strings(&e.documents.examples)
                    + map(&e.surface_forms)
                    + e.surface_forms.keys().map(|s| string(s)).sum::<usize>()
                    + key(&e.key) // the index holds a copy of the key
            })
            .sum();
        let pairs: usize = self
            .pairs
            .values()
            .map(|p| strings(&p.documents.examples))
            .sum();
        self.entities.capacity() * size_of::<EntityAgg>()
            + entities
            + map(&self.index)
            + map(&self.pairs)
            + pairs
    }

    /// Rows sorted by mention count (descending), then id.
    pub fn rows(&self) -> Vec<EntityRow<'_>> {
        let mut rows: Vec<EntityRow> = self
            .entities
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut forms: Vec<(&str, u64)> = e
                    .surface_forms
                    .iter()
                    .map(|(s, n)| (s.as_str(), *n))
                    .collect();
                forms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                EntityRow {
                    index: i,
                    entity_id: entity_id(i),
                    label: e.label,
                    name: &e.name,
                    concept: e.concept.as_ref(),
                    mention_count: e.mentions,
                    document_count: e.documents.count,
                    surface_forms: forms,
                    example_doc_ids: &e.documents.examples,
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.mention_count
                .cmp(&a.mention_count)
                .then(a.entity_id.cmp(&b.entity_id))
        });
        rows
    }

    /// Pairs sorted by sentence count (descending), then ids.
    pub fn pair_rows(&self) -> Vec<PairRow<'_>> {
        let mut rows: Vec<PairRow> = self
            .pairs
            .iter()
            .map(|(&(a, b), p)| PairRow {
                a: a as usize,
                b: b as usize,
                sentence_count: p.sentences,
                document_count: p.documents.count,
                example_doc_ids: &p.documents.examples,
            })
            .collect();
        rows.sort_by(|x, y| {
            y.sentence_count
                .cmp(&x.sentence_count)
                .then((x.a, x.b).cmp(&(y.a, y.b)))
        });
        rows
    }
}

#[derive(Serialize)]
struct TableOut<'a> {
    entities: &'a [EntityAgg],
    pairs: Vec<(u32, u32, &'a PairAgg)>,
}

#[derive(Deserialize)]
struct TableIn {
    entities: Vec<EntityAgg>,
    pairs: Vec<(u32, u32, PairAgg)>,
}

impl Serialize for EntityTable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut pairs: Vec<(u32, u32, &PairAgg)> =
            self.pairs.iter().map(|(&(a, b), p)| (a, b, p)).collect();
        pairs.sort_unstable_by_key(|&(a, b, _)| (a, b));
        TableOut {
            entities: &self.entities,
            pairs,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for EntityTable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = TableIn::deserialize(d)?;
        let n = t.entities.len();
        if let Some(&(a, b, _)) = t.pairs.iter().find(|&&(a, b, _)| a.max(b) as usize >= n) {
            return Err(serde::de::Error::custom(format!(
                "pair ({a}, {b}) refers to an entity past the {n} in the table"
            )));
        }
        let index = t
            .entities
            .iter()
            .enumerate()
            .map(|(i, e)| (e.key.clone(), i))
            .collect();
        Ok(EntityTable {
            index,
            entities: t.entities,
            pairs: t.pairs.into_iter().map(|(a, b, p)| ((a, b), p)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::lexicon::tests::fixture;
    use crate::normalize::lexicon::{Domain, Lexicon};

    fn linked<'a>(lex: &'a Lexicon, domain: Domain, surface: &'a str) -> MentionEntity<'a> {
        let l = lex.lookup(domain, surface).unwrap();
        let c = lex.concept(l.concept);
        MentionEntity {
            key: EntityKey::Concept(l.concept),
            label: c.label,
            name: &c.name,
            concept: Some(c),
            surface,
        }
    }

    fn unlinked(label: EntityLabel, surface: &str) -> MentionEntity<'_> {
        MentionEntity {
            key: EntityKey::of_name(label, surface),
            label,
            name: surface,
            concept: None,
            surface,
        }
    }

    #[test]
    fn aggregates_mentions_documents_forms_and_examples() {
        let lex = fixture();
        let mut t = EntityTable::default();
        let d = Domain::Disease;
        assert_eq!(
            t.add(unlinked(EntityLabel::Disease, "frobnitz"), 0, "d0"),
            0
        );
        let aml = t.add(linked(&lex, d, "acute myeloid leukemia"), 0, "d0");
        assert_eq!(aml, 1);
        assert_eq!(
            t.add(linked(&lex, d, "Acute myeloid leukaemia"), 1, "d1"),
            1
        );
        assert_eq!(t.add(linked(&lex, d, "AML"), 1, "d1"), 1);
        let rows = t.rows();
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!(r.entity_id, "E000002");
        assert_eq!(r.name, "acute myeloid leukemia");
        let c = r.concept.as_ref().unwrap();
        assert_eq!(c.concept_id, "MONDO:0018874");
        assert!(c.xrefs.contains(&"MESH:D015470".to_string()));
        assert_eq!((r.mention_count, r.document_count), (3, 2));
        assert_eq!(r.example_doc_ids, vec!["d0", "d1"]);
        assert_eq!(r.surface_forms.len(), 3);
        assert_eq!(rows[1].concept, None);
        assert_eq!((rows[1].mention_count, rows[1].document_count), (1, 1));
    }

    #[test]
    fn cooccurrences_count_sentences_and_documents_once() {
        let mut t = EntityTable::default();
        let a = t.add(unlinked(EntityLabel::Company, "Acme"), 0, "d0");
        let b = t.add(unlinked(EntityLabel::Disease, "gout"), 0, "d0");
        let c = t.add(unlinked(EntityLabel::CellType, "T cells"), 0, "d0");
        t.add_sentence(&[a, b, a, c], 0, "d0");
        t.add_sentence(&[b, a], 0, "d0");
        t.add_sentence(&[a], 0, "d0");
        t.add_sentence(&[a, b], 1, "d1");
        let rows = t.pair_rows();
        assert_eq!(rows.len(), 3, "a-b, a-c, b-c");
        assert_eq!((rows[0].a, rows[0].b), (a, b));
        assert_eq!((rows[0].sentence_count, rows[0].document_count), (3, 2));
        assert_eq!(rows[0].example_doc_ids, vec!["d0", "d1"]);
        assert_eq!((rows[1].a, rows[1].b), (a, c));
        assert_eq!((rows[1].sentence_count, rows[1].document_count), (1, 1));
    }

    #[test]
    fn a_snapshot_restores_the_same_table() {
        let lex = fixture();
        let mut t = EntityTable::default();
        let a = t.add(linked(&lex, Domain::Disease, "AML"), 0, "d0");
        let b = t.add(unlinked(EntityLabel::Company, "Acme"), 0, "d0");
        t.add_sentence(&[a, b], 0, "d0");
        let json = serde_json::to_string(&t).unwrap();
        let mut r: EntityTable = serde_json::from_str(&json).unwrap();
        assert_eq!(r.rows(), t.rows());
        assert_eq!(r.pair_rows(), t.pair_rows());
        // Keys are restored: the same mentions land on the same entities.
        assert_eq!(
            r.add(
                linked(&lex, Domain::Disease, "acute myeloid leukemia"),
                1,
                "d1"
            ),
            a
        );
        assert_eq!(r.add(unlinked(EntityLabel::Company, "Acme"), 1, "d1"), b);
        // The size estimate counts names, keys, forms and example ids.
        assert!(t.heap_bytes() > "Acme".len() + "AML".len() + 2 * "d0".len());
        // A pair that points past the entities is refused, not kept to panic at export.
        let bad = json.replacen("\"pairs\":[[0,1,", "\"pairs\":[[0,7,", 1);
        assert_ne!(bad, json);
        let err = serde_json::from_str::<EntityTable>(&bad).unwrap_err();
        assert!(err.to_string().contains("past the 2"), "{err}");
    }
}
