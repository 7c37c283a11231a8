//! The knowledge table: mentions aggregated into entities, and entities mentioned together.
//!
//! The table holds only what adds up: per entity its mention and document counts, surface
//! forms and names with counts, and the smallest [`EXAMPLES`] document ids; per pair of
//! entities the sentences and documents they share. Entities are keyed by their stable key
//! (see [`EntityId`]), never by order of appearance. So a table built from one run and the
//! tables of its shards merged ([`EntityTable::absorb`]) are equal, whatever the order of
//! the shards: that is how `extract`, `map` and `merge` give the same tables.
//!
//! Final rows come out sorted by mention count (then id); an entity is named by its most
//! frequent name (ties: the smallest). Co-occurrences are pairs of distinct entities in one
//! sentence, counted once per sentence and per document. Memory grows with distinct entities
//! and pairs, never with mentions.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::normalize::lexicon::{Concept, Ontology};
use crate::types::{EntityId, EntityLabel};

/// Example document ids kept per entity and per pair: the smallest ones (by byte order),
/// which any split of the corpus agrees on.
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

/// Keep `id` among the smallest [`EXAMPLES`] of `examples` (sorted, no repeats).
fn keep_example(examples: &mut Vec<String>, id: &str) {
    if examples.len() == EXAMPLES && examples.last().is_some_and(|l| id >= l.as_str()) {
        return;
    }
    if let Err(at) = examples.binary_search_by(|e| e.as_str().cmp(id)) {
        examples.insert(at, id.to_string());
        examples.truncate(EXAMPLES);
    }
}

/// Documents that mention something: counted once each within one run (documents come in
/// increasing number), added across runs (their documents are disjoint).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DocTally {
    pub document_count: u64,
    /// The smallest document ids, sorted.
    pub example_doc_ids: Vec<String>,
    /// Number of the last document counted (within the run that builds the table).
    #[serde(skip)]
    last: Option<u64>,
}

impl DocTally {
    fn see(&mut self, doc: u64, doc_id: &str) {
        if self.last != Some(doc) {
            self.document_count += 1;
            self.last = Some(doc);
            keep_example(&mut self.example_doc_ids, doc_id);
        }
    }

    fn absorb(&mut self, other: DocTally) {
        self.document_count += other.document_count;
        for id in &other.example_doc_ids {
            keep_example(&mut self.example_doc_ids, id);
        }
    }
}

fn add_counts(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (k, n) in from {
        *into.entry(k).or_default() += n;
    }
}

/// What the table knows of one entity: the `entity` record of `biotable map`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityPartial {
    pub entity_id: EntityId,
    /// The concept id, or label and normalized name (see [`EntityId`]).
    pub key: String,
    pub label: EntityLabel,
    pub concept: Option<ConceptInfo>,
    pub mention_count: u64,
    #[serde(flatten)]
    pub documents: DocTally,
    /// Display names (the concept's when linked) with their mention counts.
    pub names: BTreeMap<String, u64>,
    pub surface_forms: BTreeMap<String, u64>,
}

/// What the table knows of two entities mentioned together: the `pair` record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairPartial {
    /// The entity with the smaller id.
    pub a: EntityId,
    pub b: EntityId,
    pub sentence_count: u64,
    #[serde(flatten)]
    pub documents: DocTally,
}

/// One row of the entity tables, borrowed from the table.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityRow<'a> {
    pub entity_id: EntityId,
    pub label: EntityLabel,
    pub name: &'a str,
    pub concept: Option<&'a ConceptInfo>,
    pub mention_count: u64,
    pub document_count: u64,
    /// Surface forms, most frequent first (ties alphabetical), with counts.
    pub surface_forms: Vec<(&'a str, u64)>,
    /// The smallest ids of the documents that mention it.
    pub example_doc_ids: &'a [String],
}

/// One row of cooccurrences: entities `a` < `b` (by id).
#[derive(Debug, Clone, PartialEq)]
pub struct PairRow<'a> {
    pub a: EntityId,
    pub b: EntityId,
    pub sentence_count: u64,
    pub document_count: u64,
    pub example_doc_ids: &'a [String],
}

/// What one mention adds to the table.
pub struct MentionEntity<'a> {
    /// The entity's key (see [`EntityId`]).
    pub key: &'a str,
    pub label: EntityLabel,
    /// Display name (the concept's name when linked).
    pub name: &'a str,
    pub concept: Option<&'a Concept>,
    pub surface: &'a str,
}

/// Aggregates mentions into entities and sentence co-occurrences; merges with other tables.
///
/// It serializes (for checkpoints) as its entities sorted by id and its pairs sorted.
#[derive(Debug, Default)]
pub struct EntityTable {
    entities: HashMap<EntityId, EntityPartial>,
    pairs: HashMap<(EntityId, EntityId), PairPartial>,
}

impl EntityTable {
    /// Record a mention in document number `doc` (documents in increasing order, `doc_id` its
    /// id); returns the entity's id.
    pub fn add(&mut self, m: MentionEntity, doc: u64, doc_id: &str) -> Result<EntityId> {
        let id = EntityId::of_key(m.key);
        let e = self.entities.entry(id).or_insert_with(|| EntityPartial {
            entity_id: id,
            key: m.key.to_string(),
            label: m.label,
            concept: m.concept.map(ConceptInfo::from),
            mention_count: 0,
            documents: DocTally::default(),
            names: BTreeMap::new(),
            surface_forms: BTreeMap::new(),
        });
        if e.key != m.key {
            bail!(collision(id, &e.key, m.key));
        }
        e.mention_count += 1;
        e.documents.see(doc, doc_id);
        bump(&mut e.names, m.name);
        bump(&mut e.surface_forms, m.surface);
        Ok(id)
    }

    /// Record the entities of one sentence (ids from [`EntityTable::add`]; repeats are
    /// fine): every pair of distinct entities co-occurs once.
    pub fn add_sentence(&mut self, entities: &[EntityId], doc: u64, doc_id: &str) {
        let mut ids = entities.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for (x, &a) in ids.iter().enumerate() {
            for &b in &ids[x + 1..] {
                let p = self.pairs.entry((a, b)).or_insert_with(|| PairPartial {
                    a,
                    b,
                    sentence_count: 0,
                    documents: DocTally::default(),
                });
                p.sentence_count += 1;
                p.documents.see(doc, doc_id);
            }
        }
    }

    /// Add what another table (of other documents) knows of an entity.
    pub fn absorb_entity(&mut self, e: EntityPartial) -> Result<()> {
        if EntityId::of_key(&e.key) != e.entity_id {
            bail!(
                "entity {} does not have the id of its key {:?}",
                e.entity_id,
                e.key
            );
        }
        match self.entities.get_mut(&e.entity_id) {
            None => {
                self.entities.insert(e.entity_id, e);
            }
            Some(into) => {
                if into.key != e.key {
                    bail!(collision(e.entity_id, &into.key, &e.key));
                }
                if into.label != e.label || into.concept != e.concept {
                    bail!(
                        "entity {} ({:?}) has another label or concept in another part",
                        e.entity_id,
                        e.key
                    );
                }
                into.mention_count += e.mention_count;
                into.documents.absorb(e.documents);
                add_counts(&mut into.names, e.names);
                add_counts(&mut into.surface_forms, e.surface_forms);
            }
        }
        Ok(())
    }

    /// Add what another table (of other documents) knows of a pair.
    pub fn absorb_pair(&mut self, p: PairPartial) -> Result<()> {
        if p.a >= p.b {
            bail!("pair {} {} is not in id order", p.a, p.b);
        }
        match self.pairs.get_mut(&(p.a, p.b)) {
            None => {
                self.pairs.insert((p.a, p.b), p);
            }
            Some(into) => {
                into.sentence_count += p.sentence_count;
                into.documents.absorb(p.documents);
            }
        }
        Ok(())
    }

    /// Merge a table of other documents into this one.
    pub fn absorb(&mut self, other: EntityTable) -> Result<()> {
        for e in other.entities.into_values() {
            self.absorb_entity(e)?;
        }
        for p in other.pairs.into_values() {
            self.absorb_pair(p)?;
        }
        Ok(())
    }

    /// Pairs whose entities the table does not hold (a part that lost records).
    pub fn check_pairs(&self) -> Result<()> {
        if let Some(p) = self
            .pairs
            .values()
            .find(|p| !self.entities.contains_key(&p.a) || !self.entities.contains_key(&p.b))
        {
            bail!(
                "pair {} {} refers to an entity the table does not hold",
                p.a,
                p.b
            );
        }
        Ok(())
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

    pub fn entity(&self, id: EntityId) -> Option<&EntityPartial> {
        self.entities.get(&id)
    }

    /// Entities sorted by id (the order of `map`'s records and of checkpoints).
    pub fn partials(&self) -> Vec<&EntityPartial> {
        let mut v: Vec<&EntityPartial> = self.entities.values().collect();
        v.sort_unstable_by_key(|e| e.entity_id);
        v
    }

    /// Pairs sorted by ids.
    pub fn pair_partials(&self) -> Vec<&PairPartial> {
        let mut v: Vec<&PairPartial> = self.pairs.values().collect();
        v.sort_unstable_by_key(|p| (p.a, p.b));
        v
    }

    /// An estimate of the heap the table holds, in bytes: string and collection sizes and
    /// hash-table buckets, without allocator overhead. For memory reports.
    pub fn heap_bytes(&self) -> usize {
        fn strings(v: &[String]) -> usize {
            std::mem::size_of_val(v) + v.iter().map(String::len).sum::<usize>()
        }
        fn counts(m: &BTreeMap<String, u64>) -> usize {
            // B-tree nodes hold up to 11 entries; count entries and the key bytes.
            m.len() * (size_of::<(String, u64)>() + 8) + m.keys().map(String::len).sum::<usize>()
        }
        fn map<K, V>(m: &HashMap<K, V>) -> usize {
            // hashbrown: buckets ≈ capacity × 8/7, one control byte each.
            m.capacity() * 8 / 7 * (size_of::<(K, V)>() + 1)
        }
        let entities: usize = self
            .entities
            .values()
            .map(|e| {
                e.key.len()
                    + e.concept.as_ref().map_or(0, |c| {
                        size_of::<ConceptInfo>()
                            + c.concept_id.len()
                            + strings(&c.xrefs)
                            + c.attributes
                                .iter()
                                .map(|(k, v)| size_of::<(String, String)>() + k.len() + v.len())
                                .sum::<usize>()
                    })
                    + strings(&e.documents.example_doc_ids)
                    + counts(&e.names)
                    + counts(&e.surface_forms)
            })
            .sum();
        let pairs: usize = self
            .pairs
            .values()
            .map(|p| strings(&p.documents.example_doc_ids))
            .sum();
        map(&self.entities) + entities + map(&self.pairs) + pairs
    }

    /// Rows sorted by mention count (descending), then id.
    pub fn rows(&self) -> Vec<EntityRow<'_>> {
        let mut rows: Vec<EntityRow> = self
            .entities
            .values()
            .map(|e| {
                let mut forms: Vec<(&str, u64)> = e
                    .surface_forms
                    .iter()
                    .map(|(s, n)| (s.as_str(), *n))
                    .collect();
                forms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                EntityRow {
                    entity_id: e.entity_id,
                    label: e.label,
                    name: most_frequent(&e.names),
                    concept: e.concept.as_ref(),
                    mention_count: e.mention_count,
                    document_count: e.documents.document_count,
                    surface_forms: forms,
                    example_doc_ids: &e.documents.example_doc_ids,
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
            .values()
            .map(|p| PairRow {
                a: p.a,
                b: p.b,
                sentence_count: p.sentence_count,
                document_count: p.documents.document_count,
                example_doc_ids: &p.documents.example_doc_ids,
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

fn bump(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

/// The name with the highest count; ties go to the smallest.
fn most_frequent(names: &BTreeMap<String, u64>) -> &str {
    names
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map_or("", |(n, _)| n.as_str())
}

fn collision(id: EntityId, a: &str, b: &str) -> String {
    format!("entity id collision: {a:?} and {b:?} both hash to {id} (please report this)")
}

#[derive(Serialize)]
struct TableOut<'a> {
    entities: Vec<&'a EntityPartial>,
    pairs: Vec<&'a PairPartial>,
}

#[derive(Deserialize)]
struct TableIn {
    entities: Vec<EntityPartial>,
    pairs: Vec<PairPartial>,
}

impl Serialize for EntityTable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TableOut {
            entities: self.partials(),
            pairs: self.pair_partials(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for EntityTable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = TableIn::deserialize(d)?;
        let mut table = EntityTable::default();
        let restore = || -> Result<EntityTable> {
            for e in t.entities {
                table.absorb_entity(e)?;
            }
            for p in t.pairs {
                table.absorb_pair(p)?;
            }
            table.check_pairs()?;
            Ok(table)
        };
        restore().map_err(serde::de::Error::custom)
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
            key: &c.id,
            label: c.label,
            name: &c.name,
            concept: Some(c),
            surface,
        }
    }

    fn unlinked<'a>(key: &'a str, label: EntityLabel, surface: &'a str) -> MentionEntity<'a> {
        MentionEntity {
            key,
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
        let frob = t
            .add(
                unlinked("DISEASE:frobnitz", EntityLabel::Disease, "frobnitz"),
                0,
                "d9",
            )
            .unwrap();
        let aml = t
            .add(linked(&lex, d, "acute myeloid leukemia"), 0, "d9")
            .unwrap();
        assert_eq!(aml, EntityId::of_key("MONDO:0018874"));
        assert_eq!(
            t.add(linked(&lex, d, "Acute myeloid leukaemia"), 1, "d1")
                .unwrap(),
            aml
        );
        assert_eq!(t.add(linked(&lex, d, "AML"), 1, "d1").unwrap(), aml);
        let rows = t.rows();
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!(r.entity_id, aml);
        assert_eq!(r.name, "acute myeloid leukemia");
        let c = r.concept.unwrap();
        assert_eq!(c.concept_id, "MONDO:0018874");
        assert!(c.xrefs.contains(&"MESH:D015470".to_string()));
        assert_eq!((r.mention_count, r.document_count), (3, 2));
        // Examples are the smallest ids, whatever the order documents came in.
        assert_eq!(r.example_doc_ids, vec!["d1", "d9"]);
        assert_eq!(r.surface_forms.len(), 3);
        assert_eq!(rows[1].entity_id, frob);
        assert_eq!((rows[1].mention_count, rows[1].document_count), (1, 1));
    }

    #[test]
    fn unlinked_entities_take_their_most_frequent_name() {
        let mut t = EntityTable::default();
        let key = "DISEASE:leukemia";
        for (doc, name) in [
            (0, "leukaemias"),
            (1, "leukemia"),
            (2, "leukemia"),
            (3, "a"),
        ] {
            t.add(unlinked(key, EntityLabel::Disease, name), doc, "d")
                .unwrap();
        }
        assert_eq!(t.rows()[0].name, "leukemia");
        let mut tie = BTreeMap::new();
        tie.insert("b".to_string(), 2);
        tie.insert("a".to_string(), 2);
        assert_eq!(most_frequent(&tie), "a");
    }

    #[test]
    fn cooccurrences_count_sentences_and_documents_once() {
        let mut t = EntityTable::default();
        let co = EntityLabel::Company;
        let a = t
            .add(unlinked("COMPANY:acme", co, "Acme"), 0, "d0")
            .unwrap();
        let b = t
            .add(
                unlinked("DISEASE:gout", EntityLabel::Disease, "gout"),
                0,
                "d0",
            )
            .unwrap();
        let c = t
            .add(unlinked("CELL_TYPE:t", EntityLabel::CellType, "T"), 0, "d0")
            .unwrap();
        t.add_sentence(&[a, b, a, c], 0, "d0");
        t.add_sentence(&[b, a], 0, "d0");
        t.add_sentence(&[a], 0, "d0");
        t.add_sentence(&[a, b], 1, "d1");
        let rows = t.pair_rows();
        assert_eq!(rows.len(), 3, "a-b, a-c, b-c");
        assert_eq!((rows[0].a, rows[0].b), (a.min(b), a.max(b)));
        assert_eq!((rows[0].sentence_count, rows[0].document_count), (3, 2));
        assert_eq!(rows[0].example_doc_ids, vec!["d0", "d1"]);
        assert!(rows[1..].iter().all(|r| r.sentence_count == 1));
    }

    /// A document: its number, id, and mentions (key, surface), all in one sentence.
    type Doc<'a> = (u64, &'a str, &'a [(&'a str, &'a str)]);

    /// Add the mentions of `docs` to `t`.
    fn fill(t: &mut EntityTable, docs: &[Doc]) {
        for (doc, doc_id, mentions) in docs {
            let mut ids = Vec::new();
            for (key, surface) in *mentions {
                ids.push(
                    t.add(unlinked(key, EntityLabel::Disease, surface), *doc, doc_id)
                        .unwrap(),
                );
            }
            t.add_sentence(&ids, *doc, doc_id);
        }
    }

    #[test]
    fn merged_shards_equal_one_table_in_any_order() {
        let docs: Vec<Doc> = vec![
            (0, "d3", &[("DISEASE:a", "A"), ("DISEASE:b", "B")]),
            (1, "d1", &[("DISEASE:a", "a"), ("DISEASE:c", "C")]),
            (
                2,
                "d4",
                &[("DISEASE:a", "A"), ("DISEASE:b", "b"), ("DISEASE:c", "C")],
            ),
            (3, "d0", &[("DISEASE:b", "B")]),
            (4, "d2", &[("DISEASE:a", "a"), ("DISEASE:b", "B")]),
        ];
        let mut whole = EntityTable::default();
        fill(&mut whole, &docs);
        for split in [
            vec![0, 1, 0, 1, 0],
            vec![2, 0, 1, 2, 0],
            vec![0, 0, 0, 0, 1],
        ] {
            let mut shards: Vec<EntityTable> = (0..3).map(|_| EntityTable::default()).collect();
            for (d, &s) in docs.iter().zip(&split) {
                fill(&mut shards[s], std::slice::from_ref(d));
            }
            shards.reverse();
            let mut merged = EntityTable::default();
            for s in shards {
                merged.absorb(s).unwrap();
            }
            assert_eq!(merged.rows(), whole.rows());
            assert_eq!(merged.pair_rows(), whole.pair_rows());
        }
    }

    #[test]
    fn a_snapshot_restores_the_same_table() {
        let lex = fixture();
        let mut t = EntityTable::default();
        let a = t
            .add(linked(&lex, Domain::Disease, "AML"), 0, "d0")
            .unwrap();
        let b = t
            .add(
                unlinked("COMPANY:acme", EntityLabel::Company, "Acme"),
                0,
                "d0",
            )
            .unwrap();
        t.add_sentence(&[a, b], 0, "d0");
        let json = serde_json::to_string(&t).unwrap();
        let mut r: EntityTable = serde_json::from_str(&json).unwrap();
        assert_eq!(r.rows(), t.rows());
        assert_eq!(r.pair_rows(), t.pair_rows());
        // Keys are restored: the same mentions land on the same entities.
        let again = r
            .add(
                linked(&lex, Domain::Disease, "acute myeloid leukemia"),
                1,
                "d1",
            )
            .unwrap();
        assert_eq!(again, a);
        assert_eq!(r.entity(a).unwrap().documents.document_count, 2);
        // The size estimate counts names, keys, forms and example ids.
        assert!(t.heap_bytes() > "Acme".len() + "AML".len() + 2 * "d0".len());
        // A pair that points past the entities is refused, not kept to panic at export.
        let other = EntityId::of_key("nothing").to_string();
        let bad = json.replacen(&b.to_string(), &other, 1);
        assert_ne!(bad, json);
        assert!(serde_json::from_str::<EntityTable>(&bad).is_err());
    }
}
