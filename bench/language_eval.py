"""How much of an article language detection needs to read: accuracy and cost per head size.

    python bench/language_eval.py [--heads 600 1000 2000 4000]

English: every article of the shared US-immigration, Guardian and BBC corpora.  Spanish:
the CoNLL-2002 test sentences (EFE newswire) joined into texts of 1,500+ characters.  For
each head size (characters read from the cleaned body): how many texts were detected as
another language, and the CPU milliseconds per article, measured in this run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pipeline.enrichment.language as language  # noqa: E402
from bench.corpora import corpus  # noqa: E402
from bench.ner_eval import read_conll  # noqa: E402
from pipeline.enrichment.enrich import clean_text  # noqa: E402

_ENGLISH = ("us-immigration-2020.jsonl", "guardian-migration.jsonl", "bbc-2005.jsonl")


def _texts() -> list[tuple[str, str]]:
    """(expected language, cleaned text) pairs, from the length the fast detector is for."""
    texts = []
    for name in _ENGLISH:
        with corpus(name).open(encoding="utf-8") as f:
            texts += [("en", clean_text(json.loads(line)["body"])) for line in f]
    texts += [("es", text) for text in _spanish()]
    return [(lang, text) for lang, text in texts if len(text) >= language.SHORT_TEXT_CHARS]


def _spanish(min_chars: int = 1_500) -> list[str]:
    """The CoNLL-2002 sentences (the file has no document marks) joined in order into
    texts of about an article's opening."""
    texts, current = [], ""
    for sentence, _ in read_conll(corpus("ner/conll2002-es-testb.txt"), split_docs=False):
        current = f"{current} {sentence}" if current else sentence
        if len(current) >= min_chars:
            texts.append(clean_text(current))
            current = ""
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--heads", type=int, nargs="+", default=[600, 1000, 2000, 4000])
    args = parser.parse_args()
    texts = _texts()
    counts = {lang: sum(1 for t, _ in texts if t == lang) for lang in ("en", "es")}
    print(f"{counts['en']} English and {counts['es']} Spanish texts "
          f"(current DETECT_CHARS = {language.DETECT_CHARS})")
    language.detect_language(texts[0][1])  # the detector's first use is not timed
    for head in args.heads:
        language.DETECT_CHARS = head
        wrong = {"en": 0, "es": 0}
        started = time.process_time()
        for expected, text in texts:
            wrong[expected] += language.detect_language(text) != expected
        ms = (time.process_time() - started) / len(texts) * 1000
        print(f"head {head:5d} chars: {ms:5.2f} CPU ms/article; wrong: "
              + ", ".join(f"{lang} {wrong[lang]}/{counts[lang]}" for lang in counts))


if __name__ == "__main__":
    main()
