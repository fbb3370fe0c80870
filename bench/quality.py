"""Every enrichment-quality figure in one run: entity F1 on the project's gold spans (test
split, English and Spanish, bare spaCy beside newsflow), NER F1 on CoNLL (bare spaCy vs
newsflow), migration tagging on the corpora and on the invented snippets, and topic tags on
the labelled test split (``bench/tag_quality.py``: newsflow beside the rules alone and bare
keywords).

    python bench/quality.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _topic_tags() -> int:
    """Topic tags on the labelled test split and the corpora (kept apart to ease merges)."""
    print("\n=== tag_quality.py (labelled test split) ===", flush=True)
    return subprocess.call([sys.executable, str(HERE / "tag_quality.py")])


def main() -> int:
    failed = 0
    for script in ("entity_eval.py", "ner_eval.py", "tag_eval.py"):
        print(f"\n=== {script} ===", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / script)])
    failed |= _topic_tags()
    return failed


if __name__ == "__main__":
    sys.exit(main())
