//! Scraped-page hygiene: the parts of a web page that are never entities or parts of entities
//! are blanked out before sentence splitting and NER.
//!
//! Markdown and HTML link and image syntax, bare URLs, e-mail addresses, phone numbers and
//! short boilerplate lines (cookie and privacy banners, "Skip to content", "All rights
//! reserved") become spaces. A link's text is kept ("[Lund University](https://lu.se)" reads
//! " Lund University ..."), an image's alt text is not. Every masked character becomes as many
//! spaces as its UTF-8 width, so the masked text has the same byte offsets as the original:
//! spans found in it are spans of the original document, and mention text is always read from
//! the original.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

struct Patterns {
    /// `![alt](url "title")`: all of it.
    md_image: Regex,
    /// `[text](url)`: the brackets and the target; group 1 is the text.
    md_link: Regex,
    /// `<tag …>`, `</tag>`, `<!-- … -->`.
    html_tag: Regex,
    url: Regex,
    email: Regex,
    phone: Regex,
    /// A short line that is site boilerplate.
    boilerplate: Regex,
    /// Markdown block markers at the start of a line (headings, quotes, bullets) and emphasis
    /// runs (`**`, `__`).
    md_markers: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        md_image: Regex::new(r#"!\[[^\]\n]{0,500}\]\([^)\s]{0,2000}(?:\s+"[^"\n]{0,500}")?\)"#)
            .expect("valid regex"),
        md_link: Regex::new(r#"\[([^\]\n]{0,500})\]\([^)\s]{0,2000}(?:\s+"[^"\n]{0,500}")?\)"#)
            .expect("valid regex"),
        html_tag: Regex::new(r"<!--[\s\S]{0,5000}?-->|</?[A-Za-z][A-Za-z0-9-]{0,30}(?:\s[^<>]{0,2000})?/?>")
            .expect("valid regex"),
        url: Regex::new(r"(?i)\b(?:https?://|ftp://|www\.)[^\s<>()\[\]]+[^\s<>()\[\].,;:!?'\x22]")
            .expect("valid regex"),
        email: Regex::new(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
            .expect("valid regex"),
        phone: Regex::new(
            r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b|\+\d{1,3}(?:[\s.-]\d{2,4}){3,5}\b",
        )
        .expect("valid regex"),
        boilerplate: Regex::new(
            r"(?im)^[^\n]{0,300}\b(?:cookies?|privacy policy|privacy notice|privacy statement|terms of (?:use|service)|all rights reserved|skip to (?:main )?content|subscribe to our newsletter|accept all|manage (?:your )?preferences)\b[^\n]{0,300}$",
        )
        .expect("valid regex"),
        md_markers: Regex::new(r"(?m)^[ \t]{0,3}(?:(?:#{1,6}|>|[-*+])[ \t]+)+|\*\*|__").expect("valid regex"),
    })
}

/// Replace `text[start..end]` by spaces of the same byte length.
fn blank(bytes: &mut [u8], start: usize, end: usize) {
    for b in &mut bytes[start..end] {
        *b = b' ';
    }
}

/// `text` with markup, URLs, addresses, phone numbers and boilerplate lines blanked (same
/// byte length; borrowed when there is nothing to blank).
pub fn mask(text: &str) -> Cow<'_, str> {
    let p = patterns();
    let mut bytes = text.as_bytes().to_vec();
    let mut any = false;
    for m in p.boilerplate.find_iter(text) {
        blank(&mut bytes, m.start(), m.end());
        any = true;
    }
    for m in p.md_image.find_iter(text) {
        blank(&mut bytes, m.start(), m.end());
        any = true;
    }
    for c in p.md_link.captures_iter(text) {
        let (all, label) = (c.get(0).expect("match"), c.get(1).expect("group"));
        blank(&mut bytes, all.start(), label.start());
        blank(&mut bytes, label.end(), all.end());
        any = true;
    }
    for re in [&p.html_tag, &p.url, &p.email, &p.phone, &p.md_markers] {
        for m in re.find_iter(text) {
            blank(&mut bytes, m.start(), m.end());
            any = true;
        }
    }
    if !any {
        return Cow::Borrowed(text);
    }
    // Only whole characters were blanked (regex matches lie on character boundaries), so the
    // bytes are still UTF-8.
    Cow::Owned(String::from_utf8(bytes).expect("blanking whole characters keeps UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(text: &str) -> String {
        mask(text).split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn links_keep_their_text_and_lose_their_targets() {
        assert_eq!(
            kept("# **Acme** news\n> - quoted item"),
            "Acme news quoted item"
        );
        let t = "Researchers at [Lund University](https://www.lu.se/en \"LU\") and ![logo](img/acme.png) <a href=\"https://x.org\">Acme Corp</a>.";
        let m = mask(t);
        assert_eq!(m.len(), t.len());
        assert_eq!(kept(t), "Researchers at Lund University and Acme Corp .");
        let at = t.find("Lund University").unwrap();
        assert_eq!(
            &m[at..at + 15],
            "Lund University",
            "offsets are the original's"
        );
    }

    #[test]
    fn urls_addresses_phones_and_banners_are_blanked() {
        let t = "Contact media@calidi.com or +1 (858) 555-0134, see www.calidi.com/news.\nWe use cookies to improve your experience. Accept all\nCalidi Biotherapeutics, Inc. reported data.";
        assert_eq!(
            kept(t),
            "Contact or , see . Calidi Biotherapeutics, Inc. reported data."
        );
        assert_eq!(mask(t).len(), t.len());
    }

    #[test]
    fn plain_prose_is_borrowed_and_numbers_survive() {
        let t = "In 2019, 1,234 patients (p < 0.05) with acute myeloid leukemia were enrolled.";
        assert!(matches!(mask(t), Cow::Borrowed(_)));
        let t = "No markup here at all";
        assert!(matches!(mask(t), Cow::Borrowed(_)));
    }

    #[test]
    fn multibyte_text_keeps_offsets() {
        let t = "Études à l'[Université de Genève](https://unige.ch/é) — voir <b>ceci</b>";
        let m = mask(t);
        assert_eq!(m.len(), t.len());
        assert!(t.char_indices().all(|(i, _)| m.is_char_boundary(i)));
        assert_eq!(kept(t), "Études à l' Université de Genève — voir ceci");
    }
}
