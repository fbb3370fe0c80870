"""Where benchmarks find the shared news corpora: ``../shared/corpora`` beside the repository.

They are never copied into the repository (the texts belong to their publishers), so a clone
on its own has none: ``corpus`` then stops the benchmark with one line saying what is missing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# A git worktree or a CI checkout may live elsewhere: NEWSFLOW_CORPORA points at the directory.
CORPORA = Path(
    os.environ.get("NEWSFLOW_CORPORA") or Path(__file__).resolve().parents[2] / "shared" / "corpora"
)


def corpus(name: str) -> Path:
    """The path of a corpus file (``ner/conll2003-en-test.txt`` too), or exit 2 saying so."""
    path = CORPORA / name
    if not path.exists():
        sys.exit(f"bench: {path} is missing; benchmarks read the shared corpora "
                 f"(../shared/corpora beside the repository, or NEWSFLOW_CORPORA)")
    return path


def raw_articles(name: str, n: int, *, skip: int = 0) -> list[dict]:
    """``n`` articles of a JSONL corpus from line ``skip`` on, as raw articles to publish
    (id ``b<line>``: the same line gets the same id in every benchmark)."""
    articles = []
    with corpus(name).open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i < skip:
                continue
            record = json.loads(line)
            articles.append({"id": f"b{i}", "body": record["body"], "source": record["source"],
                             "published_at": record["published_at"]})
            if len(articles) == n:
                break
    return articles
