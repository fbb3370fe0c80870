"""Story assignment over one record per article, with a horizon.

The durable state is a mapping ``article id -> ArticleRecord`` (the dedup agent backs it
with a changelog-backed table: one changelog record per article).  What ``decide`` needs
at speed — which story a band key points at, and the signature of each story's first
article — is an index held here in memory and rebuilt from the records after a restart
(``StoryState(records)``), so the changelog carries no band keys of their own.

A story's id is the id of its first article (``decide`` gives a copy the story id and
``duplicate_of`` of the entry it matched, both that first id).

Horizon: a story is remembered for ``horizon`` seconds after its first article was seen.
``expire`` forgets older stories (index entries, and the records of all their articles,
which the caller deletes from the durable mapping: tombstones in the changelog), so an
article arriving later starts a new story.  Times are the articles' ``ingested_at``, so a
replay gives the same records; ``expire`` is called with the wall clock.

Idempotence: an article already recorded gets its recorded answer back without a new
decision, so a replay after a crash neither writes a second record nor changes its story.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline.stories.dedup import BandEntry, Decision, Fingerprint, decide

# On the wire: [story id, seen at (Unix s), "band keys, space-separated", signature base64
# of little-endian uint32s or ""] — plain JSON, what the table's changelog holds.
ArticleRecord = list


@dataclass
class _Story:
    first_seen: float
    # packed (base64 text) until a lookup needs it: a rebuild after a restart unpacks none
    signature: Sequence[int] | np.ndarray | str | None
    members: list[str] = field(default_factory=list)  # article ids with a record


def make_record(story_id: str, seen_at: float, bands: Iterable[str],
                signature: tuple[int, ...] | None) -> ArticleRecord:
    packed = (base64.b64encode(np.asarray(signature, dtype="<u4").tobytes()).decode("ascii")
              if signature is not None else "")
    return [story_id, seen_at, " ".join(bands), packed]


def _unpack(text: str) -> np.ndarray | None:
    # An array, not a tuple of ints: a tenth of the memory, and the rebuild after a
    # restart makes one per story.
    return np.frombuffer(base64.b64decode(text), dtype="<u4") if text else None


class StoryState:
    """The band index over ``records``; ``assign`` and ``expire`` return what to write."""

    def __init__(self, records: Mapping[str, ArticleRecord] | None = None) -> None:
        self._bands: dict[str, str] = {}  # band key -> story id
        self._stories: dict[str, _Story] = {}  # story id -> story, oldest first
        ordered = sorted((records or {}).items(), key=lambda kv: kv[1][1])
        for article_id, record in ordered:
            self._load(article_id, record, bands=False)
        # Band keys newest first, each record's in one C-level update: the oldest story
        # writes last, so it keeps a key two stories recorded, as ``setdefault`` would.
        for _, record in reversed(ordered):
            self._bands.update(dict.fromkeys(record[2].split(), record[0]))

    def __len__(self) -> int:
        """Stories remembered."""
        return len(self._stories)

    @property
    def band_count(self) -> int:
        return len(self._bands)

    def assign(self, article_id: str, fp: Fingerprint, *, seen_at: float,
               recorded: ArticleRecord | None = None) -> tuple[Decision, ArticleRecord | None]:
        """The article's story, and the record to store for it (None: already stored).

        ``recorded`` is the article's record if the durable mapping has one (a replay).
        """
        if recorded is not None:
            story_id = recorded[0]
            if story_id not in self._stories:  # the caller's mapping knows more: learn it
                self._load(article_id, recorded)
            duplicate_of = None if story_id == article_id else story_id
            return Decision(story_id, duplicate_of, ()), None
        decision = decide(article_id, fp, self._lookup)
        story_id = decision.story_id
        signature = fp.signature if decision.is_original else None
        record = make_record(story_id, seen_at, decision.record, signature)
        self._load(article_id, record)
        return decision, record

    def expire(self, *, now: float, horizon: float,
               records: Mapping[str, ArticleRecord]) -> list[str]:
        """Forget the stories first seen more than ``horizon`` seconds before ``now``;
        returns the article ids whose records the caller deletes from ``records``."""
        cutoff = now - horizon
        gone: list[str] = []
        for story_id, story in list(self._stories.items()):
            if story.first_seen >= cutoff:
                break  # oldest first: the rest are younger
            del self._stories[story_id]
            for article_id in story.members:
                record = records.get(article_id)
                if record is not None:
                    for key in record[2].split():
                        if self._bands.get(key) == story_id:
                            del self._bands[key]
                gone.append(article_id)
        return gone

    def _lookup(self, key: str) -> BandEntry | None:
        story_id = self._bands.get(key)
        if story_id is None:
            return None
        story = self._stories.get(story_id)
        if story is not None and isinstance(story.signature, str):
            story.signature = _unpack(story.signature)
        signature = story.signature if story is not None else None
        return BandEntry(story_id=story_id, first_id=story_id,
                         signature=signature)  # type: ignore[arg-type]  # an array is one

    def _load(self, article_id: str, record: ArticleRecord, *, bands: bool = True) -> None:
        story_id, seen_at, keys, packed = record
        story = self._stories.get(story_id)
        if story is None:
            story = self._stories[story_id] = _Story(first_seen=seen_at, signature=None)
        if article_id == story_id:
            story.first_seen = seen_at
            story.signature = packed or None
        story.members.append(article_id)
        if bands:
            for key in keys.split():
                self._bands.setdefault(key, story_id)
