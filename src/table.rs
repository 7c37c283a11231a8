//! The knowledge table: mentions aggregated into entities.
//!
//! Entities are numbered in order of first appearance (`E000001`, …), so ids are stable for a
//! given input order, and rows come out sorted by mention count (then id).

use std::collections::HashMap;

use serde::Serialize;

use crate::normalize::EntityKey;
use crate::types::EntityLabel;

#[derive(Debug)]
struct EntityAgg {
    key: EntityKey,
    mentions: u64,
    documents: u64,
    /// Index of the last document that mentioned it (to count documents once each).
    last_doc: u64,
    surface_forms: HashMap<String, u64>,
}

/// One row of entities.csv / entities.json.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EntityRow {
    pub entity_id: String,
    pub label: EntityLabel,
    pub name: String,
    pub mention_count: u64,
    pub document_count: u64,
    /// Surface forms, most frequent first (ties alphabetical), with counts.
    pub surface_forms: Vec<(String, u64)>,
}

/// Aggregates mentions into entities. Memory grows with distinct entities, not with mentions.
#[derive(Debug, Default)]
pub struct EntityTable {
    index: HashMap<EntityKey, usize>,
    entities: Vec<EntityAgg>,
}

pub fn entity_id(index: usize) -> String {
    format!("E{:06}", index + 1)
}

impl EntityTable {
    /// Record a mention of `key` in document number `doc` (documents in increasing order);
    /// returns the entity id.
    pub fn add(&mut self, key: EntityKey, surface: &str, doc: u64) -> String {
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.entities.len();
                self.index.insert(key.clone(), i);
                self.entities.push(EntityAgg {
                    key,
                    mentions: 0,
                    documents: 0,
                    last_doc: u64::MAX,
                    surface_forms: HashMap::new(),
                });
                i
            }
        };
        let e = &mut self.entities[i];
        e.mentions += 1;
        if e.last_doc != doc {
            e.documents += 1;
            e.last_doc = doc;
        }
        *e.surface_forms.entry(surface.to_string()).or_default() += 1;
        entity_id(i)
    }

    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Rows sorted by mention count (descending), then id.
    pub fn rows(&self) -> Vec<EntityRow> {
        let mut rows: Vec<EntityRow> = self
            .entities
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut forms: Vec<(String, u64)> = e
                    .surface_forms
                    .iter()
                    .map(|(s, n)| (s.clone(), *n))
                    .collect();
                forms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                EntityRow {
                    entity_id: entity_id(i),
                    label: e.key.label,
                    name: e.key.name.clone(),
                    mention_count: e.mentions,
                    document_count: e.documents,
                    surface_forms: forms,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_mentions_documents_and_forms() {
        let mut t = EntityTable::default();
        let d = EntityLabel::Disease;
        assert_eq!(t.add(EntityKey::of(d, "AML"), "AML", 0), "E000001");
        assert_eq!(
            t.add(
                EntityKey::of(d, "acute myeloid leukemia"),
                "acute myeloid leukemia",
                0
            ),
            "E000002"
        );
        assert_eq!(
            t.add(
                EntityKey::of(d, "Acute myeloid leukemia"),
                "Acute myeloid leukemia",
                1
            ),
            "E000002"
        );
        assert_eq!(
            t.add(
                EntityKey::of(d, "acute myeloid leukemia"),
                "acute myeloid leukemia",
                1
            ),
            "E000002"
        );
        let rows = t.rows();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].entity_id, "E000002");
        assert_eq!((rows[0].mention_count, rows[0].document_count), (3, 2));
        assert_eq!(
            rows[0].surface_forms,
            vec![
                ("acute myeloid leukemia".to_string(), 2),
                ("Acute myeloid leukemia".to_string(), 1)
            ]
        );
        assert_eq!((rows[1].mention_count, rows[1].document_count), (1, 1));
    }
}
