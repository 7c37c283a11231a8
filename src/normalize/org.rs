//! Companies and organizations: SEC and ROR linking, ticker evidence, and the COMPANY versus
//! ORGANIZATION decision.
//!
//! Evidence, strongest first: a ticker right after the name ("Calidi Biotherapeutics Inc.
//! (NYSE American: CLDI)") names a listed company; a legal form ("Inc.", "GmbH", "plc")
//! makes a company; an SEC name match makes a company; a ROR name match gives ROR's type
//! (Company, or Education / Government / Healthcare… which are organizations); words such as
//! "University", "Institute", "Hospital" make an organization. Exchanges are organizations.

use super::keys::{company_key, has_legal_suffix, org_key};
use super::lexicon::{Domain, Lexicon, Link};
use crate::types::EntityLabel;

/// Stock exchanges and market tiers that appear in "(EXCHANGE: TICKER)".
pub const EXCHANGES: &[&str] = &[
    "nyse",
    "nyse american",
    "nyse arca",
    "nyse mkt",
    "nyse amex",
    "amex",
    "nasdaq",
    "nasdaq gs",
    "nasdaq gm",
    "nasdaq cm",
    "nasdaq global market",
    "nasdaq global select market",
    "nasdaq global select",
    "nasdaq capital market",
    "nasdaqgs",
    "nasdaqgm",
    "nasdaqcm",
    "otc",
    "otcqb",
    "otcqx",
    "otc markets",
    "otc pink",
    "cboe",
    "tsx",
    "tsxv",
    "tsx venture",
    "lse",
    "aim",
    "asx",
    "six",
    "euronext",
    "euronext paris",
    "euronext brussels",
    "xetra",
    "hkex",
    "sehk",
];

/// Words that mark a research or public organization rather than a firm.
const ORG_WORDS: &[&str] = &[
    "university",
    "universite",
    "universitat",
    "universidad",
    "universita",
    "college",
    "school",
    "institute",
    "institut",
    "instituto",
    "hospital",
    "clinic",
    "foundation",
    "agency",
    "administration",
    "ministry",
    "department",
    "council",
    "society",
    "association",
    "academy",
    "centre",
    "center",
    "consortium",
    "commission",
    "organization",
    "organisation",
    "network",
    "alliance",
    "trust",
];

/// A ticker after a name: the exchange as written and the symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickerRef {
    pub exchange: String,
    pub ticker: String,
}

/// Reads "(NYSE American: CLDI)", ", Nasdaq: MRNA" or "(Nasdaq:NKTX; TSX: X)" at the start of
/// `after` (the text that follows a name).
pub fn ticker_after(after: &str) -> Option<TickerRef> {
    let s = after.trim_start_matches([' ', ',', '\u{a0}']);
    let s = s.strip_prefix('(').unwrap_or(s).trim_start();
    let colon = s.find(':')?;
    if colon > 40 {
        return None;
    }
    let exchange = s[..colon].trim();
    if !is_exchange(exchange) {
        return None;
    }
    let rest = s[colon + 1..].trim_start();
    let ticker: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .collect();
    let ticker = ticker.trim_end_matches(['.', '-']);
    let valid = (1..=6).contains(&ticker.len())
        && ticker.chars().any(|c| c.is_ascii_uppercase())
        && !ticker.chars().any(|c| c.is_ascii_lowercase());
    valid.then(|| TickerRef {
        exchange: exchange.to_string(),
        ticker: ticker.to_string(),
    })
}

/// True for "NYSE", "Nasdaq", "NYSE American", "Nasdaq Global Select Market"…
pub fn is_exchange(name: &str) -> bool {
    let key = org_key(name);
    let key = key.strip_prefix("the ").unwrap_or(&key);
    EXCHANGES.contains(&key)
}

fn has_org_word(name: &str) -> bool {
    org_key(name)
        .split(' ')
        .any(|w| ORG_WORDS.contains(&w) || w.starts_with("universit"))
}

/// The decision for one COMPANY or ORGANIZATION mention.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgDecision {
    pub label: EntityLabel,
    pub link: Option<Link>,
    pub ticker: Option<TickerRef>,
}

/// Decide label and link of a COMPANY / ORGANIZATION mention; `after` is the document text
/// that follows it (for a ticker).
pub fn decide(lex: &Lexicon, label: EntityLabel, text: &str, after: &str) -> OrgDecision {
    let ticker = ticker_after(after);
    let company = |link: Option<Link>| OrgDecision {
        label: EntityLabel::Company,
        link,
        ticker: ticker.clone(),
    };
    let organization = |link: Option<Link>| OrgDecision {
        label: EntityLabel::Organization,
        link,
        ticker: None,
    };
    if is_exchange(text) {
        return organization(None);
    }
    if let Some(t) = &ticker {
        // The ticker names the company; the name confirms it or is a variant of it.
        if let Some(c) = lex.ticker(&t.ticker) {
            let same = company_key(text) == company_key(&lex.concept(c).name);
            let score = if same { 1.0 } else { 0.9 };
            return company(Some(Link { concept: c, score }));
        }
        return company(lex.lookup(Domain::Company, text));
    }
    let legal = has_legal_suffix(text);
    let org_word = has_org_word(text);
    // Names of three characters or fewer ("MI", "ABC") match too many list entries by
    // chance: only a ticker links them.
    let nameable = text.trim().chars().count() > 3;
    let ror_org = lex.lookup(Domain::Org, text).filter(|_| nameable);
    let sec_or_ror_company = lex.lookup(Domain::Company, text).filter(|_| nameable);
    match label {
        _ if legal => company(sec_or_ror_company),
        EntityLabel::Company => {
            if let Some(l) = sec_or_ror_company {
                company(Some(l))
            } else if let Some(l) = ror_org {
                organization(Some(l))
            } else if org_word {
                organization(None)
            } else {
                company(None)
            }
        }
        _ => {
            if let Some(l) = ror_org {
                organization(Some(l))
            } else if let Some(l) = sec_or_ror_company.filter(|_| !org_word) {
                // Listed on the SEC list or typed Company by ROR: a firm the model read as
                // an organization. Less sure than a legal form or a ticker.
                company(Some(Link {
                    concept: l.concept,
                    score: l.score * 0.85,
                }))
            } else {
                organization(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexicon::tests::fixture;
    use super::*;

    #[test]
    fn tickers_after_names() {
        let t = |s: &str| ticker_after(s).map(|t| (t.exchange, t.ticker));
        assert_eq!(
            t(" (NYSE American: CLDI), a clinical-stage"),
            Some(("NYSE American".into(), "CLDI".into()))
        );
        assert_eq!(t(" (Nasdaq:MRNA)"), Some(("Nasdaq".into(), "MRNA".into())));
        assert_eq!(
            t(", NASDAQ: NKTX, said"),
            Some(("NASDAQ".into(), "NKTX".into()))
        );
        assert_eq!(t(" (NYSE: BRK.B)"), Some(("NYSE".into(), "BRK.B".into())));
        assert_eq!(t(" (Fig: 2)"), None);
        assert_eq!(t(" (Nasdaq: the market)"), None);
        assert_eq!(t(" said on Monday: nothing"), None);
    }

    #[test]
    fn exchanges_are_organizations() {
        assert!(is_exchange("NYSE American"));
        assert!(is_exchange("the Nasdaq Global Select Market"));
        assert!(!is_exchange("Lund University"));
        let lex = fixture();
        let d = decide(&lex, EntityLabel::Company, "Nasdaq", " on Monday");
        assert_eq!((d.label, d.link), (EntityLabel::Organization, None));
    }

    #[test]
    fn company_or_organization() {
        let lex = fixture();
        let id = |d: &OrgDecision| d.link.map(|l| lex.concept(l.concept).id.clone());
        // Ticker: company, linked even when the model said organization.
        let d = decide(
            &lex,
            EntityLabel::Organization,
            "Calidi Biotherapeutics Inc.",
            " (NYSE American: CLDI) today",
        );
        assert_eq!(d.label, EntityLabel::Company);
        assert_eq!(id(&d).as_deref(), Some("CIK:0001855485"));
        assert_eq!(d.link.unwrap().score, 1.0);
        // Ticker alone, name a variant.
        let d = decide(
            &lex,
            EntityLabel::Company,
            "Calidi",
            " (NYSE American: CLDI)",
        );
        assert_eq!(d.link.unwrap().score, 0.9);
        // Legal form: company even if the model said organization; unlisted → no link.
        let d = decide(&lex, EntityLabel::Organization, "Acme Widgets GmbH", "");
        assert_eq!((d.label, d.link), (EntityLabel::Company, None));
        // A university tagged COMPANY becomes an organization, linked to ROR.
        let d = decide(&lex, EntityLabel::Company, "Lund University", " on Monday");
        assert_eq!(d.label, EntityLabel::Organization);
        assert_eq!(id(&d).as_deref(), Some("ROR-NAME:SE:lund-university"));
        // Unknown names keep the model's label; organization words decide for unknown companies.
        let d = decide(&lex, EntityLabel::Company, "Zyx Bio", "");
        assert_eq!((d.label, d.link), (EntityLabel::Company, None));
        let d = decide(&lex, EntityLabel::Company, "Zyx Research Institute", "");
        assert_eq!((d.label, d.link), (EntityLabel::Organization, None));
        // A listed company the model read as an organization: company, less sure.
        let d = decide(&lex, EntityLabel::Company, "PFE", "");
        assert_eq!(d.link, None, "short names link only through a ticker");
        let d = decide(&lex, EntityLabel::Organization, "Pfizer", "");
        assert_eq!(d.label, EntityLabel::Company);
        assert!(d.link.unwrap().score < 0.9);
    }
}
