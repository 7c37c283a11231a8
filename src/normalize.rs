//! Normalization: from a mention's surface text to the key that identifies its entity.
//!
//! For now an entity is its label plus a normalized surface form: lowercase, dashes and
//! quotes unified, whitespace collapsed, surrounding punctuation trimmed. Ontology linking
//! (MONDO, Cell Ontology, SEC, ROR) builds on these keys.

use crate::types::EntityLabel;

/// The normalized name of a surface form.
pub fn normalize_name(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        let c = match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            '\u{2018}' | '\u{2019}' | '`' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            c if c.is_whitespace() => ' ',
            c => c,
        };
        if c == ' ' {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.extend(c.to_lowercase());
    }
    out.trim_matches(|c: char| matches!(c, '.' | ',' | ';' | ':' | '"' | '\''))
        .to_string()
}

/// The key of an entity: label and normalized name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityKey {
    pub label: EntityLabel,
    pub name: String,
}

impl EntityKey {
    pub fn of(label: EntityLabel, surface: &str) -> Self {
        EntityKey {
            label,
            name: normalize_name(surface),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_share_a_key() {
        let a = EntityKey::of(EntityLabel::Disease, "Acute  Myeloid\nLeukemia");
        let b = EntityKey::of(EntityLabel::Disease, "acute myeloid leukemia");
        assert_eq!(a, b);
        assert_eq!(normalize_name("CAR\u{2011}T cells"), "car-t cells");
        assert_eq!(
            normalize_name("Calidi Biotherapeutics Inc."),
            "calidi biotherapeutics inc"
        );
        assert_ne!(
            EntityKey::of(EntityLabel::Company, "Apple"),
            EntityKey::of(EntityLabel::Organization, "Apple")
        );
    }
}
