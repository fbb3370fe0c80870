"""pipeline.stories.assign: copies join the story of the first article; replays agree."""

from __future__ import annotations

from pipeline.stories.assign import StoryAssigner
from pipeline.stories.dedup import fingerprint

REPORT = (
    "Rescue crews in the harbour town counted forty-two people on a wooden boat at dawn, "
    "among them nine children, after a crossing that lasted three nights. Volunteers handed "
    "out blankets and water while officials registered each arrival at the quay and moved "
    "the families to a sports hall that serves as a temporary shelter this winter."
)
OTHER = (
    "The city council approved a new budget for public libraries on Tuesday, adding evening "
    "hours in four districts and a mobile library that will visit schools and care homes "
    "twice a week. The plan also funds repairs to the roof of the central reading room and "
    "more staff for the children's section during the holidays next year."
)


def test_a_copy_joins_the_first_articles_story_and_other_text_starts_its_own() -> None:
    bands: dict[str, list[str]] = {}
    signatures: dict[str, str] = {}
    stories = StoryAssigner(bands, signatures)
    first = stories.assign("a1", fingerprint(REPORT))
    assert (first.story_id, first.duplicate_of) == ("a1", None)
    assert bands and set(signatures) == {"a1"}
    copy = stories.assign("a2", fingerprint(REPORT + " Updated at noon."))
    assert (copy.story_id, copy.duplicate_of) == ("a1", "a1")
    assert stories.assign("a3", fingerprint(OTHER)).story_id == "a3"


def test_replaying_an_article_gives_the_same_answer_and_writes_nothing_new() -> None:
    bands: dict[str, list[str]] = {}
    signatures: dict[str, str] = {}
    stories = StoryAssigner(bands, signatures)
    stories.assign("a1", fingerprint(REPORT))
    copy = stories.assign("a2", fingerprint(REPORT))
    before = (dict(bands), dict(signatures))
    assert stories.assign("a1", fingerprint(REPORT)).story_id == "a1"
    assert stories.assign("a2", fingerprint(REPORT)) == copy
    assert (bands, signatures) == before
