//! The vocabulary shared by every stage: documents, spans, labels and mentions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A half-open range `[start, end)`.
///
/// Public offsets (in `Mention`) count Unicode scalar values (Python `str` indices); internal
/// stages use byte offsets into the document's UTF-8 text and convert once, at the end, with
/// [`CharIndex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        debug_assert!(start <= end, "span start {start} after end {end}");
        Span { start, end }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    pub fn shift(&self, by: usize) -> Span {
        Span::new(self.start + by, self.end + by)
    }
}

/// Entity types the product knows. The first four are the product's core; the rest are extra
/// types a model may carry where the training data supports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityLabel {
    Organization,
    Company,
    CellType,
    Disease,
    CellLine,
    Chemical,
    GeneOrProtein,
}

impl EntityLabel {
    pub const ALL: [EntityLabel; 7] = [
        EntityLabel::Organization,
        EntityLabel::Company,
        EntityLabel::CellType,
        EntityLabel::Disease,
        EntityLabel::CellLine,
        EntityLabel::Chemical,
        EntityLabel::GeneOrProtein,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EntityLabel::Organization => "ORGANIZATION",
            EntityLabel::Company => "COMPANY",
            EntityLabel::CellType => "CELL_TYPE",
            EntityLabel::Disease => "DISEASE",
            EntityLabel::CellLine => "CELL_LINE",
            EntityLabel::Chemical => "CHEMICAL",
            EntityLabel::GeneOrProtein => "GENE_OR_PROTEIN",
        }
    }
}

impl fmt::Display for EntityLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown entity label {0:?} (known: ORGANIZATION, COMPANY, CELL_TYPE, DISEASE, CELL_LINE, CHEMICAL, GENE_OR_PROTEIN)")]
pub struct UnknownLabel(pub String);

impl FromStr for EntityLabel {
    type Err = UnknownLabel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntityLabel::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownLabel(s.to_string()))
    }
}

/// An entity's id: a stable 64-bit hash (XXH3) of its key, written `E` + 16 hex digits.
///
/// The key is the concept id of a linked entity ("MONDO:0018874") or its label and normalized
/// name ("COMPANY:acme bio"), so the id depends on nothing but the entity: one run, the shards
/// of a split run and a Spark job all give an entity the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityId(pub u64);

impl EntityId {
    pub fn of_key(key: &str) -> Self {
        EntityId(xxhash_rust::xxh3::xxh3_64(key.as_bytes()))
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E{:016x}", self.0)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("bad entity id {0:?} (expected E and 16 hex digits)")]
pub struct BadEntityId(pub String);

impl FromStr for EntityId {
    type Err = BadEntityId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix('E')
            .filter(|h| h.len() == 16)
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .map(EntityId)
            .ok_or_else(|| BadEntityId(s.to_string()))
    }
}

impl Serialize for EntityId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EntityId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a document came from: the file and, for line-based formats, the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocSource {
    pub path: String,
    pub line: Option<u64>,
}

impl fmt::Display for DocSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}", self.path, line),
            None => f.write_str(&self.path),
        }
    }
}

/// One input document.
#[derive(Debug, Clone)]
pub struct Document {
    pub id: String,
    pub source: DocSource,
    pub text: String,
}

/// One entity mention found in a document. `span` is in characters (Unicode scalar values).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mention {
    pub span: Span,
    pub text: String,
    pub label: EntityLabel,
    pub score: f32,
}

/// Maps byte offsets of one text to character offsets in O(log n) per lookup.
pub struct CharIndex {
    /// For every non-ASCII character: (byte offset, char offset, UTF-8 width). Empty for ASCII.
    marks: Vec<(usize, usize, usize)>,
}

impl CharIndex {
    pub fn new(text: &str) -> Self {
        let marks = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices()
                .enumerate()
                .filter(|(_, (_, c))| !c.is_ascii())
                .map(|(ci, (bi, c))| (bi, ci, c.len_utf8()))
                .collect()
        };
        CharIndex { marks }
    }

    /// Char offset of a byte offset that lies on a char boundary (or at the end of the text).
    pub fn char_offset(&self, byte: usize) -> usize {
        // The last non-ASCII char starting before `byte`; after it every char is one byte.
        match self.marks.partition_point(|&(b, _, _)| b < byte) {
            0 => byte,
            i => {
                let (b, c, width) = self.marks[i - 1];
                c + 1 + (byte - b - width)
            }
        }
    }

    pub fn span(&self, bytes: Span) -> Span {
        Span::new(self.char_offset(bytes.start), self.char_offset(bytes.end))
    }

    /// Byte offset of a char offset (the inverse of [`CharIndex::char_offset`]).
    pub fn byte_offset(&self, chars: usize) -> usize {
        // The last non-ASCII char before `chars`; after it every char is one byte.
        match self.marks.partition_point(|&(_, c, _)| c < chars) {
            0 => chars,
            i => {
                let (b, c, width) = self.marks[i - 1];
                b + width + (chars - c - 1)
            }
        }
    }

    pub fn byte_span(&self, chars: Span) -> Span {
        Span::new(self.byte_offset(chars.start), self.byte_offset(chars.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn byte_offsets_invert_char_offsets() {
        for text in ["plain ascii", "Café é日本 x🎉y", ""] {
            let index = CharIndex::new(text);
            for (c, (b, _)) in text.char_indices().enumerate() {
                assert_eq!(index.byte_offset(c), b, "{text:?} char {c}");
                assert_eq!(index.char_offset(b), c);
            }
            assert_eq!(index.byte_offset(text.chars().count()), text.len());
        }
    }

    #[test]
    fn entity_ids_are_stable_and_round_trip() {
        let id = EntityId::of_key("MONDO:0018874");
        // XXH3-64 is a fixed algorithm: the id of a key never changes between versions.
        assert_eq!(id, EntityId(xxhash_rust::xxh3::xxh3_64(b"MONDO:0018874")));
        assert_eq!(id.to_string().len(), 17);
        assert_eq!(id.to_string().parse::<EntityId>().unwrap(), id);
        assert_eq!(
            serde_json::from_str::<EntityId>(&serde_json::to_string(&id).unwrap()).unwrap(),
            id
        );
        assert!("E12".parse::<EntityId>().is_err());
        assert!("X0000000000000000".parse::<EntityId>().is_err());
        assert_ne!(id, EntityId::of_key("MONDO:0018875"));
    }

    #[test]
    fn labels_round_trip() {
        for l in EntityLabel::ALL {
            assert_eq!(l.as_str().parse::<EntityLabel>().unwrap(), l);
            assert_eq!(
                serde_json::to_string(&l).unwrap(),
                format!("\"{}\"", l.as_str())
            );
        }
        assert!("PERSON".parse::<EntityLabel>().is_err());
    }

    proptest! {
        #[test]
        fn char_offsets_match_char_indices(text in "\\PC{0,40}") {
            let idx = CharIndex::new(&text);
            for (ci, (bi, _)) in text.char_indices().enumerate() {
                prop_assert_eq!(idx.char_offset(bi), ci);
            }
            prop_assert_eq!(idx.char_offset(text.len()), text.chars().count());
        }
    }
}
