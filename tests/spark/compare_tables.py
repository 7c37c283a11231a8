"""Check that two biotable output folders hold the same tables, and that their Parquet files
read back (pyarrow) with typed columns and the same rows as their CSVs.

    python tests/spark/compare_tables.py ONE_RUN OTHER [OTHER...]

Aggregated tables (entities.csv, cooccurrences.csv) must be equal byte for byte; streamed
tables (mentions, documents, errors) row for row in any order, leaving out the columns that name
the file each process read (documents.source, errors.file, errors.line). The manifests' counts
and fingerprints must be equal. Exits non-zero, saying what differs.
"""
import csv
import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq

DROP = {"documents.csv": {"source"}, "errors.csv": {"file", "line"}}


def fail(msg):
    print(f"compare_tables: {msg}", file=sys.stderr)
    sys.exit(1)


def rows(path, drop=()):
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.DictReader(f)
        return sorted(tuple((k, v) for k, v in row.items() if k not in drop) for row in r)


def check_parquet(folder):
    """Parquet files: typed, and the same rows as the CSVs of the same folder."""
    if not os.path.exists(os.path.join(folder, "mentions.parquet")):
        return 0
    m = pq.read_table(os.path.join(folder, "mentions.parquet"))
    if m.schema.field("start").type != pa.int64() or m.schema.field("score").type != pa.float64():
        fail(f"{folder}/mentions.parquet: offsets or scores are not typed ({m.schema})")
    csv_m = rows(os.path.join(folder, "mentions.csv"))
    pq_m = sorted(tuple((k, "" if v is None else (f"{v:g}" if isinstance(v, float) else str(v)))
                        for k, v in r.items()) for r in m.to_pylist())
    key = lambda rs: sorted(tuple(v for k, v in r if k in ("doc_id", "start", "end", "text", "label",
                                                          "entity_id", "concept_id")) for r in rs)
    if key(csv_m) != key(pq_m):
        fail(f"{folder}: mentions.parquet and mentions.csv hold different rows")
    e = pq.read_table(os.path.join(folder, "entities.parquet"))
    if not pa.types.is_list(e.schema.field("xrefs").type) or \
            not pa.types.is_list(e.schema.field("surface_forms").type) or \
            not pa.types.is_map(e.schema.field("attributes").type):
        fail(f"{folder}/entities.parquet: lists are not lists ({e.schema})")
    csv_e = [dict(r) for r in rows(os.path.join(folder, "entities.csv"))]
    pq_e = e.to_pylist()
    a = sorted((r["entity_id"], r["name"], str(r["mention_count"]), str(r["document_count"]),
                "; ".join(r["example_doc_ids"]),
                "; ".join(f"{f['text']} ({f['count']})" for f in r["surface_forms"])) for r in pq_e)
    b = sorted((r["entity_id"], r["name"], r["mention_count"], r["document_count"],
                r["example_doc_ids"], r["surface_forms"]) for r in csv_e)
    if a != b:
        fail(f"{folder}: entities.parquet and entities.csv hold different rows")
    for table, csv_name, cols in [
        ("cooccurrences.parquet", "cooccurrences.csv", ("entity_a", "entity_b", "sentence_count")),
        ("documents.parquet", "documents.csv", ("doc_id", "chars", "words", "mentions")),
        ("errors.parquet", "errors.csv", ("reason",)),
    ]:
        t = pq.read_table(os.path.join(folder, table)).to_pylist()
        c = [dict(r) for r in rows(os.path.join(folder, csv_name))]
        if sorted(tuple(str(r[k]) for k in cols) for r in t) != \
                sorted(tuple(r[k] for k in cols) for r in c):
            fail(f"{folder}: {table} and {csv_name} hold different rows")
    return m.num_rows


def manifest(folder):
    m = json.load(open(os.path.join(folder, "manifest.json")))
    return m["counts"], m["fingerprint"]


def main():
    one, others = sys.argv[1], sys.argv[2:]
    n = check_parquet(one)
    for other in others:
        for f in ("entities.csv", "cooccurrences.csv"):
            if open(os.path.join(one, f), "rb").read() != open(os.path.join(other, f), "rb").read():
                fail(f"{other}/{f} differs from {one}/{f}")
        for f in ("mentions.csv", "documents.csv", "errors.csv"):
            if rows(os.path.join(one, f), DROP.get(f, ())) != rows(os.path.join(other, f), DROP.get(f, ())):
                fail(f"{other}/{f} holds other rows than {one}/{f}")
        if manifest(one) != manifest(other):
            fail(f"{other}/manifest.json: counts or fingerprint differ from {one}")
        check_parquet(other)
    counts = manifest(one)[0]
    print(f"compare_tables: {len(others)} outputs equal {one} ({counts['documents']} documents, "
          f"{counts['mentions']} mentions, {counts['entities']} entities, {counts['errors']} errors); "
          f"Parquet read back with pyarrow ({n} mention rows)")


if __name__ == "__main__":
    main()
