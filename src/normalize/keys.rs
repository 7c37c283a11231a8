//! Matching keys: what two names must share to be the same entry of a lexicon.
//!
//! - [`term_key`] (diseases, cell types): lowercase, Greek letters spelled out, possessive
//!   "'s" dropped, punctuation and hyphens as spaces, British spellings folded to American
//!   ("leukaemia", "tumour", "oedema", "haemophilia"), each word singular ("cells" → "cell").
//! - [`bag_key`]: the term key's words without filler words, sorted, for word order
//!   ("leukemia, acute myeloid", "cancer of the breast").
//! - [`company_key`]: legal suffixes ("Inc.", "Corp", "GmbH", "plc"…) and SEC state tags
//!   ("/DE/") dropped, "&" read as "and".
//! - [`org_key`]: a trailing parenthesis ("Nasdaq (United States)") and a leading "the"
//!   dropped.

/// Lowercase words of `s`: alphanumeric runs, Greek letters spelled out, "'s" dropped.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if matches!(c, '\'' | '\u{2019}') {
            // Possessive: "Alzheimer's disease" → "alzheimer disease".
            if matches!(chars.peek(), Some('s') | Some('S')) {
                let mut ahead = chars.clone();
                ahead.next();
                if ahead.peek().is_none_or(|n| !n.is_alphanumeric()) {
                    chars.next();
                }
            }
            continue;
        }
        if let Some(g) = greek(c) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(g.to_string());
            continue;
        }
        if c.is_alphanumeric() {
            cur.extend(fold_accent(c).to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn greek(c: char) -> Option<&'static str> {
    Some(match c {
        'α' | 'Α' => "alpha",
        'β' | 'Β' => "beta",
        'γ' | 'Γ' => "gamma",
        'δ' | 'Δ' => "delta",
        'κ' | 'Κ' => "kappa",
        'λ' | 'Λ' => "lambda",
        'μ' => "mu",
        _ => return None,
    })
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        'ñ' => 'n',
        'À' | 'Á' | 'Â' | 'Ä' => 'A',
        'É' | 'È' => 'E',
        'Ö' | 'Ó' => 'O',
        'Ü' | 'Ú' => 'U',
        c => c,
    }
}

/// British → American spelling fragments of medical words.
const SPELLING: &[(&str, &str)] = &[
    ("aem", "em"), // leukaemia, anaemia, haemophilia, ischaemia
    ("oedem", "edem"),
    ("oesoph", "esoph"),
    ("hoea", "hea"), // diarrhoea, gonorrhoea
    ("coeli", "celi"),
    ("foet", "fet"),
    ("oestr", "estr"),
    ("paed", "ped"),
    ("tumour", "tumor"),
    ("isation", "ization"),
    ("ourable", "orable"),
];

fn americanize(w: &str) -> String {
    let mut w = w.to_string();
    for (from, to) in SPELLING {
        if w.contains(from) {
            w = w.replace(from, to);
        }
    }
    w
}

/// A crude singular: "cells" → "cell", "neuropathies" → "neuropathy"; words in -ss, -us, -is
/// and short words stay. Applied to both sides of a match, so it only has to be consistent.
fn singular(w: &str) -> &str {
    if w.len() <= 3 || !w.ends_with('s') || w.chars().any(|c| c.is_ascii_digit()) {
        return w;
    }
    if w.ends_with("ss") || w.ends_with("us") || w.ends_with("is") {
        return w;
    }
    &w[..w.len() - 1]
}

fn singular_owned(w: String) -> String {
    if let Some(stem) = w.strip_suffix("ies") {
        if stem.len() >= 3 {
            return format!("{stem}y");
        }
    }
    singular(&w).to_string()
}

/// The key of a disease or cell-type name.
pub fn term_key(s: &str) -> String {
    words(s)
        .into_iter()
        .map(|w| singular_owned(americanize(&w)))
        .collect::<Vec<_>>()
        .join(" ")
}

const FILLER: &[&str] = &[
    "of", "the", "in", "a", "an", "with", "to", "for", "and", "or", "nos",
];

/// The term key's content words, sorted.
pub fn bag_key(term_key: &str) -> String {
    let mut w: Vec<&str> = term_key
        .split(' ')
        .filter(|w| !w.is_empty() && !FILLER.contains(w))
        .collect();
    w.sort_unstable();
    w.dedup();
    w.join(" ")
}

/// Legal forms that end company names (compared on lowercase words, dots removed).
pub const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "ltd",
    "limited",
    "llc",
    "lp",
    "llp",
    "plc",
    "ag",
    "sa",
    "nv",
    "se",
    "gmbh",
    "kgaa",
    "bv",
    "ab",
    "asa",
    "oyj",
    "spa",
    "sarl",
    "pty",
    "kk",
    "adr",
];

/// Lowercase words for company and organization keys: "&" → "and", dots inside legal forms
/// joined ("S.A." → "sa", "N.V." → "nv").
fn org_words(s: &str) -> Vec<String> {
    let s = s.replace('&', " and ").replace('.', "");
    words(&s)
}

/// True when the name ends in a legal form ("Calidi Biotherapeutics Inc.", "Bayer AG").
pub fn has_legal_suffix(name: &str) -> bool {
    let w = org_words(name);
    w.len() >= 2 && LEGAL_SUFFIXES.contains(&w[w.len() - 1].as_str())
}

/// The key of a company name: legal forms and SEC state tags dropped.
pub fn company_key(name: &str) -> String {
    // SEC names carry state or series tags after a slash: "BANK OF AMERICA CORP /DE/".
    let name = match name.find(" /") {
        Some(p) => &name[..p],
        None => name,
    };
    let name = name.trim_end_matches(|c: char| c == '/' || c.is_whitespace());
    // ROR companies carry their country: "Pfizer (United States)".
    let name = match (name.ends_with(')'), name.rfind(" (")) {
        (true, Some(p)) => &name[..p],
        _ => name,
    };
    let name = match name.rfind('/') {
        Some(p) if name[p + 1..].eq_ignore_ascii_case("adr") => &name[..p],
        _ => name,
    };
    let mut w = org_words(name);
    if w.first().is_some_and(|f| f == "the") && w.len() > 1 {
        w.remove(0);
    }
    while w.len() > 1 && LEGAL_SUFFIXES.contains(&w[w.len() - 1].as_str()) {
        w.pop();
    }
    w.join(" ")
}

/// The key of an organization name.
pub fn org_key(name: &str) -> String {
    let mut name = name.trim();
    if name.ends_with(')') {
        if let Some(p) = name.rfind(" (") {
            name = &name[..p];
        }
    }
    let mut w = org_words(name);
    if w.first().is_some_and(|f| f == "the") && w.len() > 1 {
        w.remove(0);
    }
    w.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_plural_hyphen_and_case_variants_share_a_term_key() {
        let k = term_key("acute myeloid leukemia");
        assert_eq!(term_key("Acute Myeloid Leukaemia"), k);
        assert_eq!(term_key("acute myeloid leukemias"), k);
        assert_eq!(
            term_key("natural killer cells"),
            term_key("Natural-Killer cell")
        );
        assert_eq!(term_key("CAR-T cells"), term_key("CAR T cell"));
        assert_eq!(term_key("tumours"), term_key("tumor"));
        assert_eq!(term_key("oedema"), "edema");
        assert_eq!(term_key("haemophilia A"), "hemophilia a");
        assert_eq!(term_key("neuropathies"), term_key("neuropathy"));
        assert_eq!(
            term_key("Alzheimer's disease"),
            term_key("Alzheimer disease")
        );
        assert_eq!(term_key("TNF-α"), "tnf alpha");
        assert_eq!(term_key("Sjögren syndrome"), term_key("Sjogren syndrome"));
        assert_ne!(term_key("B cell"), term_key("T cell"));
        // Words that only look plural stay.
        assert_eq!(term_key("diabetes mellitus"), "diabete mellitus");
        assert_eq!(term_key("glaucomas"), term_key("glaucoma"));
    }

    #[test]
    fn bag_key_ignores_order_and_filler() {
        assert_eq!(
            bag_key(&term_key("leukemia, acute myeloid")),
            bag_key(&term_key("acute myeloid leukemia"))
        );
        assert_eq!(
            bag_key(&term_key("cancer of the breast")),
            bag_key(&term_key("breast cancer"))
        );
    }

    #[test]
    fn company_keys_drop_legal_forms() {
        let k = company_key("Calidi Biotherapeutics, Inc.");
        assert_eq!(k, "calidi biotherapeutics");
        assert_eq!(company_key("Calidi Biotherapeutics Inc."), k);
        assert_eq!(company_key("BANK OF AMERICA CORP /DE/"), "bank of america");
        assert_eq!(company_key("Johnson & Johnson"), "johnson and johnson");
        assert_eq!(company_key("Banco Santander, S.A."), "banco santander");
        assert_eq!(company_key("Midea Group Co., Ltd./ADR"), "midea group");
        assert_eq!(company_key("Co"), "co");
        assert_eq!(company_key("Pfizer (United States)"), "pfizer");
        assert!(has_legal_suffix("Calidi Biotherapeutics Inc."));
        assert!(has_legal_suffix("Bayer AG"));
        assert!(has_legal_suffix("Acme Co."));
        assert!(!has_legal_suffix("Lund University"));
        assert!(!has_legal_suffix("Inc."));
    }

    #[test]
    fn org_keys() {
        assert_eq!(org_key("Nasdaq (United States)"), "nasdaq");
        assert_eq!(org_key("the University of Oxford"), "university of oxford");
        assert_eq!(org_key("Lund University"), "lund university");
    }
}
