"""Topic-tag quality on the labelled test split and on the corpora, newsflow beside the
rules alone (the tagger before the trained model) and bare keywords.

    python bench/tag_quality.py          (also run by bench/quality.py)

The test split is only ever read here, to report; ``bench/train_tagger.py`` never sees it.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import tagset  # noqa: E402

from pipeline.enrichment.tagging import load_tagger  # noqa: E402

# What a newsroom search box would use: any of these words makes an article "about migration".
_KEYWORDS = re.compile(
    r"\b(migra\w*|immigra\w*|emigra\w*|refugee\w*|asylum|deport\w*|refugiad\w*|asilo|"
    r"deportad\w*|inmigra\w*|desplazad\w*|displaced)\b",
    re.IGNORECASE,
)
System = Callable[[dict], tuple[bool, set[str]]]


def _systems() -> dict[str, System]:
    model, rules = load_tagger(), load_tagger(model=False)

    def run(tagger) -> System:  # type: ignore[no-untyped-def]
        def f(r: dict) -> tuple[bool, set[str]]:
            res = tagger.tag(title=r.get("title"), body=r["text"], language=r["language"],
                             entities=[])  # fmt: skip
            return res.migration_related, {t.id for t in res.topics}

        return f

    def keywords(r: dict) -> tuple[bool, set[str]]:
        return bool(_KEYWORDS.search(f"{r.get('title') or ''} {r['text']}")), set()

    return {"newsflow": run(model), "rules only": run(rules), "bare keywords": keywords}


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def _labelled(systems: dict[str, System], tags: list[str]) -> None:
    rows = tagset.load(("test",))
    by_lang = {lang: [r for r in rows if r["language"] == lang] for lang in ("en", "es")}
    print(f"labelled test split: {len(rows)} items "
          f"(en {len(by_lang['en'])}, es {len(by_lang['es'])}; "
          f"{sum(r['migration_related'] for r in rows)} migration-related, "
          f"{sum(r['hard_negative'] for r in rows)} hard negatives)")  # fmt: skip
    per_tag: dict[str, dict[str, dict[str, float]]] = {}
    for name, system in systems.items():
        preds = [system(r) for r in rows]
        print(f"  {name}")
        for lang, sub in (("all", rows), *by_lang.items()):
            pairs = [(r, p) for r, p in zip(rows, preds, strict=True) if r in sub]
            mig = [0, 0, 0]
            hard = [p[0] for r, p in pairs if r["hard_negative"]]
            counts = {t: [0, 0, 0] for t in tags}
            n_tags = [len(p[1]) for r, p in pairs if p[0]]
            for r, (related, got) in pairs:
                gold = r["migration_related"]
                mig[0] += gold and related
                mig[1] += related and not gold
                mig[2] += gold and not related
                want = set(r["tags"])
                for t in tags:
                    c = counts[t]
                    c[0] += t in got and t in want
                    c[1] += t in got and t not in want
                    c[2] += t in want and t not in got
            f1s = {t: _f1(*c) for t, c in counts.items() if c[0] + c[2]}
            per_tag.setdefault(name, {})[lang] = f1s
            macro = f"{statistics.mean(f1s.values()):.3f}" if name != "bare keywords" else "  —  "
            avg = f"{statistics.mean(n_tags):.2f}" if n_tags and name != "bare keywords" else "—"
            print(f"    {lang:3s} migration-related F1 {_f1(*mig):.3f}   hard negatives tagged "
                  f"{sum(hard)}/{len(hard)} = {sum(hard) / max(len(hard), 1):.3f}   "
                  f"tag macro-F1 {macro}   tags per tagged item {avg}")  # fmt: skip
    print("  per-tag F1 on the test split (support en/es)   newsflow en | es   rules only en | es")
    for t in tags:
        sup = [sum(t in r["tags"] for r in by_lang[lang]) for lang in ("en", "es")]
        cells = []
        for name in ("newsflow", "rules only"):
            cells.append(" | ".join(
                f"{per_tag[name][lang][t]:.2f}" if t in per_tag[name][lang] else "  — "
                for lang in ("en", "es")))  # fmt: skip
        print(f"    {t:36s} {sup[0]:3d}/{sup[1]:<3d}   {cells[0]}   {cells[1]}")


def _corpora(systems: dict[str, System]) -> None:
    texts = tagset.read_jsonl
    guardian = [dict(d, text=d["body"], language="en")
                for d in texts(tagset.CORPORA / "guardian-migration.jsonl")]  # fmt: skip
    bbc = [dict(d, text=d["body"], language="en") for d in texts(tagset.CORPORA / "bbc-2005.jsonl")
           if d["category"] != "politics"]  # fmt: skip
    print(f"corpora: guardian-migration n={len(guardian)} (target >= 0.98 tagged), "
          f"bbc-2005 outside politics n={len(bbc)} (target <= 0.005)")  # fmt: skip
    for name, system in systems.items():
        started = time.process_time()
        g = [system(d) for d in guardian]
        b = [system(d) for d in bbc]
        spent = (time.process_time() - started) / (len(g) + len(b)) * 1000
        tagged = [len(p[1]) for p in g if p[0]]
        avg = f"{statistics.mean(tagged):.2f}" if tagged and name != "bare keywords" else "—"
        print(f"  {name:13s} guardian tagged {sum(p[0] for p in g) / len(g):.4f} "
              f"(tags per article {avg})   bbc non-politics tagged "
              f"{sum(p[0] for p in b) / len(b):.4f}   {spent:.2f} ms/article")  # fmt: skip


def report() -> None:
    systems = _systems()
    tags = list(load_tagger(model=False).taxonomy)
    _labelled(systems, tags)
    _corpora(systems)


if __name__ == "__main__":
    report()
