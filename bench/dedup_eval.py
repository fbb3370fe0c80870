"""How dedup groups a real corpus: which articles collapse into one story, and how alike
they really are.

    .venv/bin/python bench/dedup_eval.py [CORPUS.jsonl] [--show K]

Runs every article of the corpus (read at run time, never copied into the repository)
through ``fingerprint`` and ``decide`` with an in-memory store that behaves like the
agent's tables, then prints: the number of stories, the stories with several articles, and
for every copy the *true* 5-shingle Jaccard with its story's first article (so a false
merge shows as a low value), plus the opening words of K merged pairs to eyeball.  It also
counts misses: pairs whose true Jaccard is at least 0.7 that ended in different stories.
Candidates for those come from a much looser banding of the same signatures (32 bands of 4
rows: a 0.7 pair collides with probability > 0.9999), then the true Jaccard decides.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import numpy as np

from bench.corpora import corpus
from pipeline.stories.dedup import (
    BandEntry,
    decide,
    fingerprint,
    pack_signature,
    shingles,
    unpack_signature,
)

DEFAULT = corpus("us-immigration-2020.jsonl")
_LOOSE_ROWS = 4


def _true_jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def main(argv: list[str]) -> None:
    path = Path(next((a for a in argv if a.endswith(".jsonl")), DEFAULT))
    show = int(argv[argv.index("--show") + 1]) if "--show" in argv else 8
    articles = [json.loads(line) for line in path.open(encoding="utf-8")]

    bands: dict[str, tuple[str, str]] = {}
    signatures: dict[str, str] = {}

    def lookup(key: str) -> BandEntry | None:
        if key not in bands:
            return None
        story_id, first_id = bands[key]
        packed = signatures.get(story_id)
        return BandEntry(story_id, first_id, unpack_signature(packed) if packed else None)

    story_of: dict[str, str] = {}
    loose: dict[bytes, list[str]] = defaultdict(list)
    for article in articles:
        fp = fingerprint(article["body"])
        if fp.signature is not None:
            rows = np.asarray(fp.signature, dtype="<u4").reshape(-1, _LOOSE_ROWS)
            for band, values in enumerate(rows):
                loose[bytes([band]) + values.tobytes()].append(article["id"])
        decision = decide(article["id"], fp, lookup)
        for key in decision.record:
            bands[key] = (decision.story_id, decision.duplicate_of or article["id"])
        if decision.is_original and fp.signature is not None:
            signatures[decision.story_id] = pack_signature(fp.signature)
        story_of[article["id"]] = decision.story_id

    by_id = {a["id"]: a for a in articles}
    sh = {a["id"]: shingles(a["body"]) for a in articles}
    stories: dict[str, list[str]] = defaultdict(list)
    for aid, sid in story_of.items():
        stories[sid].append(aid)
    multi = {sid: ids for sid, ids in stories.items() if len(ids) > 1}
    copies = [(sid, aid) for sid, ids in multi.items() for aid in ids if aid != sid]
    sims = sorted(_true_jaccard(sh[sid], sh[aid]) for sid, aid in copies)
    print(f"{len(articles)} articles -> {len(stories)} stories; "
          f"{len(multi)} stories with copies, {len(copies)} copies")
    if sims:
        print(f"true 5-shingle Jaccard copy vs first: min {sims[0]:.2f}, "
              f"median {sims[len(sims) // 2]:.2f}, below 0.5: {sum(s < 0.5 for s in sims)}")

    pairs = {tuple(sorted(p)) for ids in loose.values() for p in combinations(set(ids), 2)}
    close = sorted((a, b, j) for a, b in pairs if (j := _true_jaccard(sh[a], sh[b])) >= 0.7)
    missed = [(a, b, j) for a, b, j in close if story_of[a] != story_of[b]]
    print(f"pairs with true Jaccard >= 0.7: {len(close)} (from {len(pairs)} loose candidates)")
    print(f"pairs with true Jaccard >= 0.7 left in different stories: {len(missed)}")
    for a, b, j in missed[:show]:
        print(f"  missed J={j:.2f} {a} / {b}")

    for sid, aid in copies[:show]:
        first, copy = by_id[sid], by_id[aid]
        print(f"\n  story {sid} ({first.get('source')}) <- {aid} ({copy.get('source')}) "
              f"J={_true_jaccard(sh[sid], sh[aid]):.2f}")
        print(f"    first: {' '.join(first['body'].split()[:14])} …")
        print(f"    copy:  {' '.join(copy['body'].split()[:14])} …")


if __name__ == "__main__":
    main(sys.argv[1:])
