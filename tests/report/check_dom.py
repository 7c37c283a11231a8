"""Checks of report.html as Chromium rendered it (scripts/test-report.sh).

    python tests/report/check_dom.py pick-entity OUT_DIR
    python tests/report/check_dom.py check OUT_DIR WORK_DIR ENTITY_ID

The expected counts come from the run's CSV tables and manifest, the rendered ones from the
DOM that `chromium --dump-dom` printed after the page's script ran. Exits non-zero, saying
what differs.
"""
import csv
import html
import json
import os
import re
import sys

TOP, DOCS, MENTIONS_PER_ENTITY, MAX_EDGES, MAX_NODES = 50, 20, 5, 400, 150


def fail(msg):
    print(f"check_dom: {msg}", file=sys.stderr)
    sys.exit(1)


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def top(items, n, score):
    """The report's rule: highest score first, ties in file order."""
    return sorted(items, key=lambda x: -score(x))[:n]


def expect(name, got, want):
    if got != want:
        fail(f"{name}: the page shows {got}, the tables say {want}")


def count(dom, pattern):
    return len(re.findall(pattern, dom))


def pick_entity(out):
    linked = [e for e in rows(os.path.join(out, "entities.csv")) if e["concept_id"]]
    print(top(linked, 1, lambda e: int(e["mention_count"]))[0]["entity_id"])


def check(out, work, entity_id):
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    c = manifest["counts"]
    entities = rows(os.path.join(out, "entities.csv"))
    pairs = rows(os.path.join(out, "cooccurrences.csv"))
    mentions = rows(os.path.join(out, "mentions.csv"))
    documents = rows(os.path.join(out, "documents.csv"))

    dom = open(os.path.join(work, "overview.dom.html"), encoding="utf-8").read()
    if 'data-ready="1"' not in dom:
        fail("the page's script did not run to the end (no data-ready on <body>)")
    for key in ("documents", "mentions", "entities", "errors"):
        m = re.search(rf'id="stat-{key}"[^>]*>([\d,]+)<', dom)
        if not m:
            fail(f"no stat-{key} on the overview")
        expect(f"{key} on the overview", int(m.group(1).replace(",", "")), c[key])
    labels = sorted({e["label"] for e in entities})
    expect("rows of the label table", count(dom, r'<tr class="row" data-label="'), len(labels))
    shown = []
    for label in labels:
        shown += top([e for e in entities if e["label"] == label], TOP, lambda e: int(e["mention_count"]))
    expect("rows of the entity table", count(dom, r'<tr class="row" data-entity="'), len(shown))
    with_mentions = [d for d in documents if int(d["mentions"]) > 0]
    expect("rows of the document table", count(dom, r'<tr class="row" data-doc="'), min(DOCS, len(with_mentions)))

    # The network: entities shown that share a sentence, at most MAX_NODES.
    ids = {e["entity_id"] for e in shown}
    edges = top([p for p in pairs if p["entity_a"] in ids and p["entity_b"] in ids], MAX_EDGES,
                lambda p: int(p["sentence_count"]))
    nodes = {p["entity_a"] for p in edges} | {p["entity_b"] for p in edges}
    net = open(os.path.join(work, "network.dom.html"), encoding="utf-8").read()
    if 'data-view="network"' not in net:
        fail("#network did not open the network view")
    circles = count(net, r'<circle class="node"')
    expect("nodes of the network", circles, min(MAX_NODES, len(nodes)))
    lines = count(net, r'<line class="edge"')
    if len(nodes) <= MAX_NODES:
        expect("links of the network", lines, len(edges))
    elif not 0 < lines <= len(edges):
        fail(f"links of the network: {lines} of {len(edges)}")

    # An entity page: its mentions in context and what it co-occurs with.
    ent = open(os.path.join(work, "entity.dom.html"), encoding="utf-8").read()
    e = next(x for x in entities if x["entity_id"] == entity_id)
    if f'data-entity="{entity_id}"' not in ent or html.escape(e["name"], quote=False) not in ent:
        fail(f"the page of {entity_id} does not show it")
    expect("mentions in context", count(ent, r'class="ctx mention-ctx"'),
           min(MENTIONS_PER_ENTITY, int(e["mention_count"])))
    co = [p for p in edges if entity_id in (p["entity_a"], p["entity_b"])]
    got = len(re.findall(r"<tr><td><a href=\"#entity/", ent))
    expect("co-occurring entities", got, len(co))

    # The hostile document: shown as text, every mention highlighted, nothing run.
    hostile = open(os.path.join(work, "hostile.dom.html"), encoding="utf-8").read()
    body = hostile.split('id="doc-text"', 1)
    if len(body) < 2:
        fail("the hostile document's text is not on its page")
    text = body[1].split("</div>", 1)[0]
    want = len([m for m in mentions if m["doc_id"] == "hostile.txt"])
    if want == 0:
        fail("the model found nothing in the hostile document (the test needs mentions there)")
    expect("highlighted mentions of the hostile document", count(text, r"<mark "), want)
    for literal in ["&lt;script&gt;document.title", "&lt;img src=x onerror=", "&lt;!-- comment --&gt;",
                    "&lt;/script&gt;&lt;script&gt;alert(1)", "🧬", "😀", "שלום", "مرض السكري"]:
        if literal not in text:
            fail(f"the hostile document does not show {literal!r} as text")
    if re.search(r"<body[^>]*data-pwned", hostile) or "<title>pwned" in hostile:
        fail("a script or handler of the hostile document ran")
    if 'data-ready="1"' not in hostile:
        fail("the page's script did not finish on the hostile document's page")
    if "<title>biotable report</title>" not in hostile:
        fail("the page title changed")
    print(f"check_dom: overview ({c['documents']} documents, {c['mentions']} mentions, {len(shown)} entities "
          f"shown), network ({circles} nodes, {lines} links), entity page ({e['name']}), hostile document "
          f"({want} mentions highlighted, markup shown as text) all rendered as the tables say")


if __name__ == "__main__":
    if sys.argv[1] == "pick-entity":
        pick_entity(sys.argv[2])
    else:
        check(*sys.argv[2:5])
