//! Distant supervision for ORGANIZATION and COMPANY: news-style sentences generated from the
//! ROR organisation list and the SEC company list.
//!
//! The human-annotated ORGANIZATION/COMPANY data is informal (WNUT-17 tweets, lowercased
//! MultiCoNER Wikipedia sentences) while users feed formal news and press releases, where names
//! are cased and come with legal suffixes and tickers. These templates put real, properly cased
//! names into press-release contexts. Only ORGANIZATION and COMPANY are annotated.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Sentence;
use crate::types::{EntityLabel, Span};

/// Agencies and other organisations that press releases name often.
const AGENCIES: &[&str] = &[
    "U.S. Food and Drug Administration",
    "FDA",
    "European Medicines Agency",
    "National Institutes of Health",
    "NIH",
    "National Cancer Institute",
    "World Health Organization",
    "Centers for Disease Control and Prevention",
    "Bill & Melinda Gates Foundation",
    "Wellcome Trust",
    "Medical Research Council",
];

const EXCHANGES: &[&str] = &[
    "Nasdaq",
    "NYSE",
    "NYSE American",
    "Nasdaq Global Market",
    "OTCQB",
];

/// Slots: {C} company, {O} organisation, {A} agency, {E} exchange (an ORGANIZATION), {T} ticker.
const TEMPLATES: &[&str] = &[
    "{C} ({E}: {T}) today announced positive topline results from its Phase 2 trial.",
    "{C} ({E}: {T}), a clinical-stage biotechnology company, reported third-quarter revenue of $45 million.",
    "{C}, a clinical-stage biopharmaceutical company, entered into a license agreement with {O}.",
    "Researchers at {O} collaborated with {C} on the study.",
    "The study was funded by {A} and {O}.",
    "{O} and {C} will co-develop the therapy.",
    "Shares of {C} rose 12% after the announcement.",
    "The trial was conducted at {O} with support from {C}.",
    "According to a spokesperson for {O}, enrollment is complete.",
    "{C} said it had received clearance from the {A} to begin the study.",
    "The company was founded in 2015 by scientists from {O}.",
    "{C} acquired the program from {C2} for an undisclosed sum.",
    "Data were presented by investigators from {O} and {O2}.",
    "The {A} granted Fast Track designation to the candidate developed by {C}.",
    "{C} is listed on the {E} under the ticker {T}.",
    "In a statement, {O} said the results would be published later this year.",
    "Dr. Maria Lopez, professor at {O}, led the analysis.",
    "{C} and {C2} announced a research collaboration on Monday.",
];

struct Company {
    name: String,
    ticker: String,
    exchange: Option<String>,
}

/// Clean an SEC name: drop "/DE"-style state suffixes, title-case ALL-CAPS words longer than
/// three letters (shorter ones are mostly acronyms: IBM, CVS), and write legal suffixes as news
/// does ("INC" → "Inc.").
pub fn clean_sec_name(raw: &str) -> String {
    let base = raw
        .split(" /")
        .next()
        .unwrap_or(raw)
        .split('/')
        .next()
        .unwrap_or(raw)
        .trim();
    let all_caps = !base.chars().any(|c| c.is_lowercase());
    let words: Vec<String> = base
        .split_whitespace()
        .map(|w| {
            let bare = w.trim_end_matches([',', '.']).to_uppercase();
            let suffix = match bare.as_str() {
                "INC" => Some("Inc."),
                "CORP" => Some("Corp."),
                "CO" => Some("Co."),
                "LTD" => Some("Ltd."),
                "PLC" => Some("plc"),
                "LLC" => Some("LLC"),
                "HOLDINGS" if all_caps => Some("Holdings"),
                _ => None,
            };
            match suffix {
                Some(s) => s.to_string(),
                None if all_caps && w.len() > 3 => {
                    let mut cs = w.chars();
                    let first = cs.next().map(|c| c.to_string()).unwrap_or_default();
                    first + &cs.as_str().to_lowercase()
                }
                None => w.to_string(),
            }
        })
        .collect();
    words.join(" ").trim_end_matches(',').to_string()
}

fn load_companies(data_dir: &Path) -> Result<Vec<Company>> {
    let path = data_dir.join("sec-company-tickers/company_tickers_exchange.json");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let rows = v["data"].as_array().context("SEC list has no data array")?;
    let mut out = Vec::new();
    for r in rows {
        let (Some(name), Some(ticker)) = (r[1].as_str(), r[2].as_str()) else {
            continue;
        };
        if ticker.contains('-') {
            continue; // share classes, warrants
        }
        out.push(Company {
            name: clean_sec_name(name),
            ticker: ticker.to_string(),
            exchange: r[3].as_str().map(str::to_string),
        });
    }
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

/// ROR names by our label: Company → COMPANY, everything else → ORGANIZATION.
fn load_ror(data_dir: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let path = data_dir.join("ror-orgs/ror-2021-05-names-types.tsv");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let (mut orgs, mut companies) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 {
            continue;
        }
        // "Zynga (United States)" → "Zynga"
        let name = match f[0].rfind(" (") {
            Some(i) if f[0].ends_with(')') => &f[0][..i],
            _ => f[0],
        };
        if name.len() < 3 || name.len() > 80 {
            continue;
        }
        if f[3].split('|').any(|t| t == "Company") {
            companies.push(name.to_string());
        } else {
            orgs.push(name.to_string());
        }
    }
    Ok((orgs, companies))
}

/// Generate `n` sentences, deterministic in `seed`.
pub fn sentences(data_dir: &Path, n: usize, seed: u64) -> Result<Vec<Sentence>> {
    let companies = load_companies(data_dir)?;
    let (orgs, ror_companies) = load_ror(data_dir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let template = TEMPLATES.choose(&mut rng).expect("templates");
        let listed = companies.choose(&mut rng).expect("companies");
        let listed2 = companies.choose(&mut rng).expect("companies");
        let mut text = String::new();
        let mut entities = Vec::new();
        let mut rest: &str = template;
        while let Some(open) = rest.find('{') {
            text.push_str(&rest[..open]);
            let close = open + rest[open..].find('}').expect("closed slot");
            let slot = &rest[open + 1..close];
            rest = &rest[close + 1..];
            let (value, label) = match slot {
                // Companies: mostly listed ones, some from ROR's Company type.
                "C" | "C2" => {
                    let c = if slot == "C" { listed } else { listed2 };
                    if rng.gen_bool(0.25) && !template.contains("{T}") {
                        (
                            ror_companies.choose(&mut rng).expect("ror").clone(),
                            Some(EntityLabel::Company),
                        )
                    } else {
                        (c.name.clone(), Some(EntityLabel::Company))
                    }
                }
                "O" | "O2" => (
                    orgs.choose(&mut rng).expect("orgs").clone(),
                    Some(EntityLabel::Organization),
                ),
                "A" => (
                    AGENCIES.choose(&mut rng).expect("agencies").to_string(),
                    Some(EntityLabel::Organization),
                ),
                "E" => (
                    listed
                        .exchange
                        .clone()
                        .filter(|e| e != "OTC")
                        .unwrap_or_else(|| EXCHANGES.choose(&mut rng).expect("x").to_string()),
                    Some(EntityLabel::Organization),
                ),
                "T" => (listed.ticker.clone(), None),
                other => unreachable!("unknown slot {other}"),
            };
            let start = text.len();
            text.push_str(&value);
            if let Some(l) = label {
                entities.push((Span::new(start, text.len()), l));
            }
        }
        text.push_str(rest);
        out.push(Sentence {
            tokens: text.split_whitespace().map(str::to_string).collect(),
            text,
            entities,
            ignored: Vec::new(),
            masked: Vec::new(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sec_names_read_like_news() {
        assert_eq!(clean_sec_name("MICROSOFT CORP"), "Microsoft Corp.");
        assert_eq!(
            clean_sec_name("Calidi Biotherapeutics, Inc."),
            "Calidi Biotherapeutics, Inc."
        );
        assert_eq!(
            clean_sec_name("EVERSPIN TECHNOLOGIES INC."),
            "Everspin Technologies Inc."
        );
        // Short all-caps words are kept: usually acronyms.
        assert_eq!(
            clean_sec_name("OLD NATIONAL BANCORP /IN/"),
            "OLD National Bancorp"
        );
        assert_eq!(clean_sec_name("CVS HEALTH CORP"), "CVS Health Corp.");
        assert_eq!(clean_sec_name("Surrozen, Inc./DE"), "Surrozen, Inc.");
    }
}
