#!/usr/bin/env python3
"""Build biotable's bundled lexicon (data/lexicon/biotable-lexicon.tsv.gz) from ../shared/data.

The lexicon is what `biotable extract` links mentions to, compiled into the binary so that
extraction needs nothing outside the repository at run time. Sources and licences are listed
in data/lexicon/README.md.

    python3 scripts/build-lexicon.py [--data ../shared/data] [--out data/lexicon/biotable-lexicon.tsv.gz]

Output format (UTF-8, gzip, tab separated, deterministic order):

    #biotable-lexicon<TAB>1<TAB><comment>
    C<TAB>concept_id<TAB>ontology<TAB>LABEL<TAB>name<TAB>xrefs (;-joined)<TAB>attrs (k=v;-joined)
    S<TAB>kind<TAB>synonym              (belongs to the C line above; kind: e exact, c corpus)

Disease concepts are MONDO terms; a MONDO term gets the DOID, MeSH and OMIM cross-references
of the Disease Ontology terms that share its label (MONDO's compact JSON has no xrefs, so the
bridge is by name). DO terms that no MONDO term names are kept as DOID concepts. Mention
strings of the NCBI-disease and BC5CDR *train and dev* sets (never test) are added as corpus
synonyms of the concept carrying their gold MeSH/OMIM id. Matching keys are computed at load
time by the Rust code (normalize::lexicon), so this script only needs a coarse key for the
MONDO-DO bridge.
"""

import argparse
import csv
import gzip
import json
import re
import sys
from collections import defaultdict
from pathlib import Path


def coarse_key(s: str) -> str:
    s = s.lower().replace("'s ", " ")
    s = re.sub(r"[^0-9a-z]+", " ", s)
    return " ".join(s.split())


def clean(s: str) -> str:
    return " ".join(s.replace("\t", " ").split())


def read_obo(path: Path):
    """Yield dicts for [Term] stanzas: id, name, synonyms [(text, scope)], xrefs, alt_ids, obsolete."""
    term = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("["):
                if term is not None:
                    yield term
                term = {"id": None, "name": None, "syn": [], "xref": [], "obsolete": False} if line == "[Term]" else None
                continue
            if term is None or ": " not in line:
                continue
            tag, value = line.split(": ", 1)
            if tag == "id":
                term["id"] = value
            elif tag == "name":
                term["name"] = value
            elif tag == "synonym":
                m = re.match(r'"((?:[^"\\]|\\.)*)" (\w+)', value)
                if m:
                    term["syn"].append((m.group(1).replace('\\"', '"'), m.group(2)))
            elif tag == "xref":
                term["xref"].append(value.split(" ", 1)[0])
            elif tag == "is_obsolete" and value.strip() == "true":
                term["obsolete"] = True
    if term is not None:
        yield term


def norm_xref(x: str):
    x = x.strip().strip('"')
    if x.startswith("MESH:") or x.startswith("MSH:"):
        return "MESH:" + x.split(":", 1)[1]
    if x.startswith("OMIM:") or x.startswith("MIM:"):
        return "OMIM:" + x.split(":", 1)[1]
    return None


def read_tsv_quoted(path: Path):
    with open(path, encoding="utf-8") as f:
        r = csv.reader(f, delimiter="\t", quotechar='"')
        next(r)
        for row in r:
            yield row


def disease_concepts(data: Path):
    # Disease Ontology: names and synonyms from the 2016 OBO, labels and xrefs from current reports.
    do = {}
    for t in read_obo(data / "disease-ontology/doid.obo"):
        if t["id"] is None or not t["id"].startswith("DOID:") or t["obsolete"]:
            continue
        do[t["id"]] = {
            "name": t["name"],
            "syn": [s for s, scope in t["syn"] if scope == "EXACT"],
            "xref": {x for x in map(norm_xref, t["xref"]) if x},
        }
    for doid, label, _parent in read_tsv_quoted(data / "disease-ontology/HumanDO.tsv"):
        d = do.setdefault(doid, {"name": label, "syn": [], "xref": set()})
        if d["name"] != label:
            d["syn"].append(d["name"])
            d["name"] = label
    for doid, _label, xref in read_tsv_quoted(data / "disease-ontology/allXREFinDO.tsv"):
        x = norm_xref(xref)
        if x and doid in do:
            do[doid]["xref"].add(x)

    do_by_label = defaultdict(set)
    do_by_any = defaultdict(set)
    for doid, d in do.items():
        do_by_label[coarse_key(d["name"])].add(doid)
        for n in [d["name"], *d["syn"]]:
            do_by_any[coarse_key(n)].add(doid)

    mondo = json.load(open(data / "mondo/MONDO-ontology-v2026-05-05.json", encoding="utf-8"))
    concepts = []
    mapped_do = set()
    for cid in sorted(mondo):
        t = mondo[cid]
        if t.get("deprecated") or not cid.startswith("MONDO:"):
            continue
        if "non-human animal" in t["label"]:
            continue  # veterinary terms (MONDO:1xxxxxx) would shadow the human diseases
        names = [t["label"], *t.get("synonyms", [])]
        # Bridge: the MONDO label names a DO term (label or synonym), or a MONDO synonym is a DO label.
        linked = set(do_by_any.get(coarse_key(t["label"]), ()))
        for s in t.get("synonyms", []):
            linked |= do_by_label.get(coarse_key(s), set())
        mapped_do |= linked
        xrefs = set(linked)
        for doid in linked:
            xrefs |= do[doid]["xref"]
        concepts.append({"id": cid, "ont": "MONDO", "label": "DISEASE", "name": t["label"],
                         "names": names, "xref": xrefs, "attrs": {}, "corpus": []})
    for doid in sorted(do):
        if doid in mapped_do:
            continue
        d = do[doid]
        concepts.append({"id": doid, "ont": "DOID", "label": "DISEASE", "name": d["name"],
                         "names": [d["name"], *d["syn"]], "xref": set(d["xref"]), "attrs": {}, "corpus": []})
    return concepts


CORPUS_FILES = {
    "train": ["ncbi-disease/original/NCBItrainset_corpus.txt", "bc5cdr/original/CDR_TrainingSet.PubTator.txt"],
    "dev": ["ncbi-disease/original/NCBIdevelopset_corpus.txt", "bc5cdr/original/CDR_DevelopmentSet.PubTator.txt"],
}


def corpus_synonyms(data: Path, concepts, splits):
    """Gold mention strings of the train/dev splits (never test).

    1. Crosswalk: when the annotators give a string one MeSH/OMIM id by a clear majority and
       the string is a name of a MONDO/DO concept, that concept gains the id (MONDO's compact
       JSON has no xrefs, and the name bridge to DO misses e.g. "neoplasm" = D009369).
    2. Synonyms: the strings become corpus synonyms of the concept carrying their id. Short
       upper-case strings are usually document-local abbreviations: they are kept only when
       two or more documents use them, always with the same id.
    """
    files = [data / f for split in splits for f in CORPUS_FILES[split]]
    votes = defaultdict(lambda: defaultdict(set))  # key -> id -> {(file, pmid)}
    texts = {}
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 6 or parts[4] not in ("SpecificDisease", "DiseaseClass", "Modifier", "Disease"):
                    continue
                text, ident = parts[3], parts[5]
                if "|" in ident or "+" in ident or ident == "-1":
                    continue  # composite mentions and unlinked ones
                x = ident if ident.startswith("OMIM:") else "MESH:" + ident
                k = coarse_key(text)
                votes[k][x].add((path.name, parts[0]))
                texts.setdefault((k, x), text)

    by_name = defaultdict(list)
    for c in concepts:
        for n in c["names"]:
            by_name[coarse_key(n)].append(c)
    crosswalked = 0
    chosen = {}
    for k, ids in votes.items():
        total = sum(len(d) for d in ids.values())
        x, docs = max(ids.items(), key=lambda kv: (len(kv[1]), kv[0]))
        if total >= 2 and len(docs) / total >= 0.6:
            for c in by_name.get(k, []):
                if x not in c["xref"]:
                    c["xref"].add(x)
                    crosswalked += 1
        chosen[k] = (x, docs, len(ids) == 1)

    by_xref = defaultdict(list)
    for c in concepts:
        for x in c["xref"]:
            by_xref[x].append(c)
    added = 0
    for k, (x, docs, unanimous) in sorted(chosen.items()):
        text = texts[(k, x)]
        if len(text) <= 5 and not any(ch.islower() for ch in text):
            if len(docs) < 2 or not unanimous:
                continue
        named = [c for c in by_name.get(k, []) if x in c["xref"]]
        targets = named or sorted(by_xref.get(x, []), key=lambda c: (c["ont"] != "MONDO", c["id"]))
        if targets:
            targets[0]["corpus"].append(text)
            added += 1
    print(f"corpus evidence: {len(votes)} strings, {crosswalked} ids crosswalked onto named concepts", file=sys.stderr)
    return added


def cell_concepts(data: Path):
    cl = json.load(open(data / "cell-ontology/CL-ontology-v2026-03-26.json", encoding="utf-8"))
    exact_obo = defaultdict(list)
    for t in read_obo(data / "cell-ontology/cl-basic.obo"):
        if t["id"] and not t["obsolete"]:
            exact_obo[t["id"]] += [s for s, scope in t["syn"] if scope == "EXACT"]
    out = []
    for cid in sorted(cl):
        t = cl[cid]
        if t.get("deprecated") or not cid.startswith("CL:"):
            continue
        names = [t["label"], *t.get("synonyms", []), *exact_obo.get(cid, [])]
        out.append({"id": cid, "ont": "CL", "label": "CELL_TYPE", "name": t["label"], "names": names,
                    "xref": set(), "attrs": {}, "corpus": []})
    return out


def sec_concepts(data: Path):
    d = json.load(open(data / "sec-company-tickers/company_tickers_exchange.json", encoding="utf-8"))
    by_cik = {}
    for cik, name, ticker, exchange in d["data"]:
        c = by_cik.setdefault(cik, {"name": name, "tickers": [], "exchanges": []})
        if ticker and ticker not in c["tickers"]:
            c["tickers"].append(ticker)
        if exchange and exchange not in c["exchanges"]:
            c["exchanges"].append(exchange)
    out = []
    for cik in sorted(by_cik):
        c = by_cik[cik]
        attrs = {"ticker": "|".join(c["tickers"]), "exchange": "|".join(c["exchanges"])}
        out.append({"id": f"CIK:{cik:010d}", "ont": "SEC", "label": "COMPANY", "name": c["name"],
                    "names": [c["name"]], "xref": set(), "attrs": attrs, "corpus": []})
    return out


def ror_concepts(data: Path):
    rows = {}
    with open(data / "ror-orgs/ror-2021-05-names-types.tsv", encoding="utf-8") as f:
        r = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(r)
        for row in r:
            if len(row) < 4 or not row[0].strip():
                continue
            name, cc, _country, types = (clean(x) for x in row[:4])
            slug = coarse_key(name).replace(" ", "-")
            cid = f"ROR-NAME:{cc or 'XX'}:{slug}"
            prev = rows.get(cid)
            tset = set(t for t in types.split("|") if t)
            if prev:
                prev["types"] |= tset
            else:
                rows[cid] = {"name": name, "cc": cc, "types": tset}
    out = []
    for cid in sorted(rows):
        r = rows[cid]
        label = "COMPANY" if r["types"] == {"Company"} else "ORGANIZATION"
        attrs = {"country": r["cc"], "types": "|".join(sorted(r["types"]))}
        out.append({"id": cid, "ont": "ROR", "label": label, "name": r["name"], "names": [r["name"]],
                    "xref": set(), "attrs": attrs, "corpus": []})
    return out


def write(out: Path, concepts, comment: str):
    out.parent.mkdir(parents=True, exist_ok=True)
    n_syn = 0
    with gzip.GzipFile(out, "wb", compresslevel=9, mtime=0) as raw:
        f = raw
        f.write(f"#biotable-lexicon\t1\t{comment}\n".encode())
        for c in concepts:
            xrefs = ";".join(sorted(c["xref"]))
            attrs = ";".join(f"{k}={v}" for k, v in sorted(c["attrs"].items()) if v)
            f.write(f"C\t{c['id']}\t{c['ont']}\t{c['label']}\t{clean(c['name'])}\t{xrefs}\t{attrs}\n".encode())
            seen = {clean(c["name"]).lower()}
            for kind, names in (("e", c["names"]), ("c", c["corpus"])):
                for n in names:
                    n = clean(n)
                    if n and n.lower() not in seen:
                        seen.add(n.lower())
                        f.write(f"S\t{kind}\t{n}\n".encode())
                        n_syn += 1
    return n_syn


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="data/lexicon/biotable-lexicon.tsv.gz")
    ap.add_argument("--corpus-splits", default="train,dev",
                    help="gold splits whose mentions become corpus synonyms: 'train,dev' for the shipped "
                         "lexicon, 'train' for a lexicon to tune linking on the dev splits")
    args = ap.parse_args()
    splits = [s for s in args.corpus_splits.split(",") if s]
    if any(s not in CORPUS_FILES for s in splits):
        sys.exit(f"build-lexicon: --corpus-splits takes train and/or dev, not {args.corpus_splits}")
    data = Path(args.data)
    if not (data / "mondo").is_dir():
        sys.exit(f"build-lexicon: {data} has no mondo/ folder (pass --data)")
    diseases = disease_concepts(data)
    corpus = corpus_synonyms(data, diseases, splits)
    cells = cell_concepts(data)
    sec = sec_concepts(data)
    ror = ror_concepts(data)
    concepts = diseases + cells + sec + ror
    n_syn = write(Path(args.out), concepts,
                  "MONDO 2026-05-05, DO 2016-09-01 + 2026-07-31 reports, CL 2026-03-26 + 2022-11-25 obo, "
                  "SEC tickers 2025-12-14, ROR 2021-05 names")
    counts = defaultdict(int)
    for c in concepts:
        counts[c["ont"]] += 1
    print(f"wrote {args.out}: {len(concepts)} concepts {dict(counts)}, {n_syn} synonyms "
          f"({corpus} corpus mentions), "
          f"{sum(1 for c in diseases if any(x.startswith('MESH:') for x in c['xref']))} disease concepts with MeSH",
          file=sys.stderr)


if __name__ == "__main__":
    main()
