"""StoryState: one record per article, the band index rebuilt from records, the horizon."""

from __future__ import annotations

import json

from pipeline.stories.dedup import fingerprint
from pipeline.stories.state import ArticleRecord, StoryState
from tests.unit.stories.test_dedup import COPIES, UNRELATED, WIRE

DAY = 86400.0
T0 = 1_700_000_000.0


def _run(state: StoryState, records: dict[str, ArticleRecord], article_id: str, text: str,
         seen_at: float) -> tuple[str, str | None]:
    """What the agent does per article: assign, then store the record (as JSON would)."""
    decision, record = state.assign(article_id, fingerprint(text), seen_at=seen_at,
                                    recorded=records.get(article_id))
    if record is not None:
        records[article_id] = json.loads(json.dumps(record))
    return decision.story_id, decision.duplicate_of


def test_copies_join_the_first_article_with_one_record_per_article() -> None:
    state, records = StoryState(), {}
    assert _run(state, records, "wire-1", WIRE, T0) == ("wire-1", None)
    for i, copy in enumerate(COPIES):
        assert _run(state, records, f"copy-{i}", copy, T0 + i) == ("wire-1", "wire-1")
    for i, text in enumerate(UNRELATED):
        assert _run(state, records, f"other-{i}", text, T0 + 10 + i) == (f"other-{i}", None)
    assert sorted(records) == sorted(
        ["wire-1"] + [f"copy-{i}" for i in range(3)] + [f"other-{i}" for i in range(3)])
    assert len(state) == 4


def test_a_replayed_article_gets_its_recorded_answer_and_writes_nothing() -> None:
    state, records = StoryState(), {}
    _run(state, records, "wire-1", WIRE, T0)
    _run(state, records, "copy-0", COPIES[0], T0 + 1)
    before = dict(records)
    for article_id, text in (("wire-1", WIRE), ("copy-0", COPIES[0])):
        decision, record = state.assign(article_id, fingerprint(text), seen_at=T0 + 99,
                                        recorded=records[article_id])
        assert record is None
        assert (decision.story_id, decision.duplicate_of) == (
            ("wire-1", None) if article_id == "wire-1" else ("wire-1", "wire-1"))
    assert records == before


def test_the_index_rebuilt_from_records_decides_like_the_original() -> None:
    state, records = StoryState(), {}
    _run(state, records, "wire-1", WIRE, T0)
    _run(state, records, "copy-0", COPIES[0], T0 + 1)
    for i, text in enumerate(UNRELATED):
        _run(state, records, f"other-{i}", text, T0 + 2 + i)
    rebuilt = StoryState(records)  # a restarted worker, from the changelog only
    assert (len(rebuilt), rebuilt.band_count) == (len(state), state.band_count)
    assert _run(rebuilt, records, "copy-1", COPIES[1], T0 + 10) == ("wire-1", "wire-1")
    assert _run(rebuilt, records, "copy-x", UNRELATED[2], T0 + 11) == ("other-2", "other-2")


def test_stories_past_the_horizon_are_forgotten_with_all_their_records() -> None:
    state, records = StoryState(), {}
    _run(state, records, "wire-1", WIRE, T0)
    _run(state, records, "copy-0", COPIES[0], T0 + 5 * DAY)
    _run(state, records, "other-0", UNRELATED[0], T0 + 10 * DAY)

    kept = state.expire(now=T0 + 14 * DAY, horizon=14 * DAY, records=records)
    assert kept == []  # first seen exactly at the horizon: still remembered
    gone = state.expire(now=T0 + 15 * DAY, horizon=14 * DAY, records=records)
    assert sorted(gone) == ["copy-0", "wire-1"]  # the story goes whole, copies included
    for article_id in gone:
        del records[article_id]
    assert len(state) == 1 and state.band_count == StoryState(records).band_count

    # a copy published after the horizon starts a story of its own
    assert _run(state, records, "copy-2", COPIES[2], T0 + 15 * DAY) == ("copy-2", None)
    assert _run(state, records, "other-1", UNRELATED[0], T0 + 15 * DAY) == ("other-0", "other-0")
