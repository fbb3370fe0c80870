"""Story assignment over two key-value stores: which story an article joins, and what to record.

The stores are plain mutable mappings (in the worker, changelog-backed Faust tables; in tests,
dicts).  ``bands`` maps an LSH band key to ``[story id, first article id]``; ``signatures``
maps a story id to its first article's packed MinHash signature.  Entries are only added,
never changed, so replaying an article after a crash gives the same answer.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from pipeline.stories.dedup import (
    BandEntry,
    Decision,
    Fingerprint,
    decide,
    pack_signature,
    unpack_signature,
)


class StoryAssigner:
    """``assign`` one article at a time, in stream order: each decision reads what the
    previous ones recorded."""

    def __init__(self, bands: MutableMapping[str, Any], signatures: MutableMapping[str, Any]):
        self._bands = bands
        self._signatures = signatures

    def assign(self, article_id: str, fp: Fingerprint) -> Decision:
        """Decide the article's story and record its bands (and, for a new story, its
        signature) so later copies find it."""
        decision = decide(article_id, fp, self._lookup)
        first_id = decision.duplicate_of or article_id
        for key in decision.record:
            self._bands[key] = [decision.story_id, first_id]
        if decision.is_original and fp.signature is not None:
            packed = pack_signature(fp.signature)
            if self._signatures.get(decision.story_id) != packed:  # a replay finds it there
                self._signatures[decision.story_id] = packed
        return decision

    def _lookup(self, key: str) -> BandEntry | None:
        value = self._bands.get(key)
        if value is None:
            return None
        story_id, first_id = value
        packed = self._signatures.get(story_id)
        return BandEntry(story_id=story_id, first_id=first_id,
                         signature=unpack_signature(packed) if packed else None)
