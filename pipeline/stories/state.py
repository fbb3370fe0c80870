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

Two homes for the index.  ``StoryState`` holds it in memory, rebuilt from every record at a
start (tables in memory).  ``DiskStoryState`` reads it from entries that ``index_entries``
derives from each record and that the table's RocksDB store keeps beside the records, in the
same write (``pipeline.core.derived``): a restart reads nothing proportional to the state.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline.core.derived import Entries, sortable_time
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


# --- the index on disk ------------------------------------------------------------------
# Derived entries (raw bytes): band key -> story; seen-at (µs, big-endian) + article -> story,
# so expiry scans the oldest first; story + copy -> "" (a story's copies; the first article's
# id is the story id).
_BAND, _SEEN, _COPY = b"b", b"t", b"c"
_SEP = b"\0"


def index_entries(article_id: str, record: ArticleRecord) -> list[tuple[bytes, bytes]]:
    """The index entries one article record stands for (see ``DiskStoryState``)."""
    story_id, seen_at, keys, _ = record
    story = story_id.encode()
    entries = [(_BAND + key.encode(), story) for key in keys.split()]
    entries.append((_SEEN + sortable_time(seen_at) + article_id.encode(), story))
    if article_id != story_id:
        entries.append((_COPY + story + _SEP + article_id.encode(), b""))
    return entries


class DiskStoryState:
    """``StoryState``'s decisions over derived entries on disk.

    The entries change only when the caller writes or deletes a record in ``records`` (its
    store derives them in the same write), so this object holds nothing and is cheap to make
    per batch.  A story is forgotten when an article of it is older than the horizon, which
    is its first article, as in ``StoryState``.
    """

    def __init__(self, index: Entries, records: Mapping[str, ArticleRecord]) -> None:
        self._index = index
        self._records = records

    def assign(self, article_id: str, fp: Fingerprint, *, seen_at: float,
               recorded: ArticleRecord | None = None) -> tuple[Decision, ArticleRecord | None]:
        """As ``StoryState.assign``; the caller writes the record, which indexes it."""
        if recorded is not None:
            story_id = recorded[0]
            duplicate_of = None if story_id == article_id else story_id
            return Decision(story_id, duplicate_of, ()), None
        decision = decide(article_id, fp, self._lookup)
        signature = fp.signature if decision.is_original else None
        return decision, make_record(decision.story_id, seen_at, decision.record, signature)

    def expire(self, *, now: float, horizon: float, limit: int = 50_000) -> list[str]:
        """The article ids of stories first seen more than ``horizon`` seconds before
        ``now`` (about ``limit`` at most: the next call takes the rest), for the caller to
        delete from ``records``, which removes their entries."""
        stories: dict[bytes, None] = {}
        count = 0
        for _, story in self._index.scan(_SEEN, stop=_SEEN + sortable_time(now - horizon)):
            if story not in stories:
                stories[story] = None
                count += 1 + sum(1 for _ in self._index.scan(_COPY + story + _SEP))
                if count >= limit:
                    break
        gone: list[str] = []
        for story in stories:
            gone.append(story.decode())
            prefix = _COPY + story + _SEP
            gone.extend(key[len(prefix):].decode() for key, _ in self._index.scan(prefix))
        return gone

    def _lookup(self, key: str) -> BandEntry | None:
        story = self._index.get(_BAND + key.encode())
        if story is None:
            return None
        story_id = story.decode()
        first = self._records.get(story_id)
        signature = _unpack(first[3]) if first is not None else None
        return BandEntry(story_id=story_id, first_id=story_id,
                         signature=signature)  # type: ignore[arg-type]  # an array is one
