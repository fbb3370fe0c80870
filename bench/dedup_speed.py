"""What a dedup fingerprint costs next to NER, on 1,000-word texts.

    .venv/bin/python bench/dedup_speed.py [N]

Builds N (default 60) texts of exactly 1,000 words from the shared corpus at run time and
prints CPU µs per article for: spaCy NER (``Ner.extract``, the baseline), the fingerprint
the dedup agent computes (signature + band keys), its parts, and the textbook datasketch
path (SHA-1 of every joined shingle, then ``update_batch``), each as a share of NER.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

from datasketch import MinHash  # type: ignore[import-untyped]

from bench.corpora import corpus
from pipeline.core.settings import Settings
from pipeline.enrichment.nlp import Ner
from pipeline.stories.dedup import (
    NUM_PERM,
    SEED,
    band_keys,
    fingerprint,
    normalise_words,
    signature,
)

CORPUS = corpus("us-immigration-2020.jsonl")
WORDS = 1000


def _texts(n: int) -> list[str]:
    texts, words = [], []
    with CORPUS.open(encoding="utf-8") as f:
        for line in f:
            words.extend(json.loads(line)["body"].split())
            while len(words) >= WORDS and len(texts) < n:
                texts.append(" ".join(words[:WORDS]))
                words = words[WORDS:]
            if len(texts) == n:
                break
    return texts


def _cpu(fn: Callable[[], object], *, repeat: int = 1) -> float:
    started = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - started) / repeat


def _textbook(text: str) -> list[int]:
    words = normalise_words(text)
    minhash = MinHash(NUM_PERM, seed=SEED, scheme="affine32")
    minhash.update_batch([" ".join(words[i : i + 5]).encode() for i in range(len(words) - 4)])
    return [int(v) for v in minhash.hashvalues]


def main(argv: list[str]) -> None:
    n = int(next((a for a in argv if a.isdigit()), "60"))
    settings = Settings()
    texts = _texts(n)
    ner = Ner({"en": settings.enrich.model_en}, batch_size=settings.enrich.batch_size)
    ner.extract(texts[:4], "en")  # warm up
    fingerprint(texts[0])
    sigs = [signature(t) for t in texts]

    rows = {
        "spaCy NER (baseline)": _cpu(lambda: ner.extract(texts, "en")),
        "fingerprint (signature+bands)": _cpu(lambda: [fingerprint(t) for t in texts], repeat=5),
        "  normalise_words": _cpu(lambda: [normalise_words(t) for t in texts], repeat=5),
        "  signature": _cpu(lambda: [signature(t) for t in texts], repeat=5),
        "  band_keys": _cpu(lambda: [band_keys(s) for s in sigs], repeat=5),
        "textbook datasketch (SHA-1)": _cpu(lambda: [_textbook(t) for t in texts], repeat=2),
    }
    base = rows["spaCy NER (baseline)"]
    print(f"{len(texts)} texts of {WORDS} words; CPU time per article")
    for name, seconds in rows.items():
        print(f"{name:<32} {seconds / len(texts) * 1e6:10.0f} µs  {seconds / base:7.2%} of NER")


if __name__ == "__main__":
    main(sys.argv[1:])
