"""Every enrichment-quality figure in one run: entity F1 on the project's gold spans (test
split, English and Spanish, bare spaCy beside newsflow), NER F1 on CoNLL (bare spaCy vs
newsflow) and migration tagging on the corpora and on our own labelled set.

    python bench/quality.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = 0
    for script in ("entity_eval.py", "ner_eval.py", "tag_eval.py"):
        print(f"\n=== {script} ===", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / script)])
    return failed


if __name__ == "__main__":
    sys.exit(main())
