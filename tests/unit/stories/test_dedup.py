"""Near-duplicate detection: fingerprints, band keys and the story decision."""

from __future__ import annotations

import pytest

from pipeline.stories.dedup import (
    BANDS,
    MIN_WORDS,
    NUM_PERM,
    BandEntry,
    Decision,
    Fingerprint,
    band_keys,
    decide,
    fingerprint,
    jaccard,
    pack_signature,
    shingles,
    signature,
    unpack_signature,
)

WIRE = (
    "GENEVA - The number of people forced to flee their homes worldwide rose for the "
    "twelfth consecutive year, the United Nations refugee agency said on Thursday, as "
    "fighting in several regions drove families across borders and into crowded camps. "
    "The agency said its field teams had registered new arrivals at reception points on "
    "three continents during the past six months, many of them women and young children "
    "travelling without documents. Officials warned that funding for shelter, clean water "
    "and schooling had fallen well short of what host countries requested at a donor "
    "conference in the spring. Several governments have tightened border controls since "
    "then, while others have opened temporary corridors for humanitarian convoys. "
    "Aid workers interviewed at a transit centre described long queues for food and "
    "medical checks, and said that nights had grown colder as the season changed. "
    "The report urged wealthy nations to expand resettlement quotas and to speed up the "
    "processing of asylum claims, which in some countries now take more than two years. "
    "A spokesperson added that local communities hosting displaced people deserved more "
    "support, since schools and clinics in border towns were operating far beyond their "
    "capacity and municipal budgets had not been adjusted to the new population."
)


def _syndicated(intro: str, outro: str, edits: dict[str, str]) -> str:
    body = WIRE
    for old, new in edits.items():
        assert old in body
        body = body.replace(old, new)
    return f"{intro}\n\n{body}\n\n{outro}"


COPIES = [
    _syndicated("Published by the Riverside Herald.", "Copyright 2024 Riverside Herald.",
                {"on Thursday": "Thursday"}),
    _syndicated("From our wire partners:", "Read more world news on our website.",
                {"twelfth": "12th", "GENEVA - ": "GENEVA (Wire) -- "}),
    _syndicated("World briefing", "Reporting by staff; editing by the night desk.",
                {"long queues": "long lines", "colder": "much colder"}),
]

UNRELATED = [
    "The city council approved a new budget for road repairs on Tuesday after a long "
    "debate about potholes, cycling lanes and the cost of winter salt. Council members "
    "said the plan would resurface forty streets over three years, starting with the "
    "busiest routes near schools and the central market, and that contractors would be "
    "chosen through an open tender published next month.",
    "A local football club celebrated its promotion to the second division with a parade "
    "through the old town, where thousands of supporters waved scarves and sang. The coach "
    "thanked the players for a season of hard work and said the squad would need at least "
    "three new defenders before the summer transfer window closed in August this year.",
    "Scientists reported that a rare orchid thought to have vanished from the region was "
    "found again in a shaded valley by volunteers counting plants for a botanical survey. "
    "The team said the small colony would be monitored closely, and that its location "
    "would stay secret to protect it from collectors who had stripped other sites before.",
]


def _true_jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


class _Store:
    """What the agent's tables do: band → (story, first), story → signature."""

    def __init__(self) -> None:
        self.bands: dict[str, tuple[str, str]] = {}
        self.signatures: dict[str, str] = {}

    def lookup(self, key: str) -> BandEntry | None:
        if key not in self.bands:
            return None
        story_id, first_id = self.bands[key]
        packed = self.signatures.get(story_id)
        return BandEntry(story_id, first_id, unpack_signature(packed) if packed else None)

    def process(self, article_id: str, text: str) -> Decision:
        fp = fingerprint(text)
        decision = decide(article_id, fp, self.lookup)
        for key in decision.record:
            self.bands[key] = (decision.story_id, decision.duplicate_of or article_id)
        if decision.is_original and fp.signature is not None:
            self.signatures[decision.story_id] = pack_signature(fp.signature)
        return decision


# --- fingerprints -----------------------------------------------------------------------


def test_normalisation_ignores_case_punctuation_and_wrapping() -> None:
    a = "Migrants crossed the border, police said; aid groups asked for shelter."
    b = "MIGRANTS crossed\nthe border -- police said.  Aid groups asked for \"shelter\""
    assert shingles(a) == shingles(b)
    assert "migrants crossed the border police" in shingles(a)


def test_signature_is_stable_and_sized() -> None:
    sig = signature(WIRE)
    assert len(sig) == NUM_PERM
    assert sig == signature(WIRE)
    assert len(signature(WIRE, num_perm=64)) == 64
    assert unpack_signature(pack_signature(sig)) == tuple(sig)


def test_jaccard_estimate_tracks_the_true_shingle_jaccard() -> None:
    for copy in COPIES:
        assert abs(jaccard(signature(WIRE), signature(copy)) - _true_jaccard(WIRE, copy)) < 0.15
    assert jaccard(signature(WIRE), signature(UNRELATED[0])) < 0.1


def test_band_keys_are_short_distinct_per_band_and_checked() -> None:
    keys = band_keys(signature(WIRE))
    assert len(keys) == BANDS == len(set(keys))
    assert all(len(k) <= 20 for k in keys)
    # The same rows in another band must not collide with this band.
    same_rows = [7] * NUM_PERM
    assert len(set(band_keys(same_rows))) == BANDS
    with pytest.raises(ValueError):
        band_keys([1, 2, 3])


def test_syndicated_copies_share_bands_unrelated_texts_do_not() -> None:
    original = set(fingerprint(WIRE).bands)
    for copy in COPIES:
        assert _true_jaccard(WIRE, copy) > 0.7  # the texts really are near-duplicates
        assert original & set(fingerprint(copy).bands)
    for text in UNRELATED:
        assert not original & set(fingerprint(text).bands)


def test_short_texts_match_exactly_or_not_at_all() -> None:
    short = "Border crossing closed after storm, officials say."
    assert len(short.split()) < MIN_WORDS
    fp = fingerprint(short)
    assert fp.signature is None and len(fp.bands) == 1
    assert fingerprint("BORDER crossing closed after storm -- officials say").bands == fp.bands
    assert fingerprint("Border crossing reopened after storm, officials say.").bands != fp.bands
    assert fingerprint("!!! ...") == Fingerprint(signature=None, bands=())


# --- decisions --------------------------------------------------------------------------


def test_first_copy_is_the_story_and_later_copies_point_at_it() -> None:
    store = _Store()
    first = store.process("wire-1", WIRE)
    assert (first.story_id, first.duplicate_of) == ("wire-1", None)
    assert len(first.record) == BANDS
    for i, copy in enumerate(COPIES):
        decision = store.process(f"copy-{i}", copy)
        assert (decision.story_id, decision.duplicate_of) == ("wire-1", "wire-1")
    for i, text in enumerate(UNRELATED):
        decision = store.process(f"other-{i}", text)
        assert (decision.story_id, decision.duplicate_of) == (f"other-{i}", None)


def test_short_exact_copies_share_a_story() -> None:
    store = _Store()
    store.process("a", "Border crossing closed after storm, officials say.")
    assert store.process("b", "Border crossing closed after storm. Officials say").story_id == "a"
    reopened = store.process("c", "Border crossing reopened after storm, officials say.")
    assert reopened.story_id == "c"


def test_band_collision_without_similar_text_is_refused() -> None:
    store = _Store()
    store.process("wire-1", WIRE)
    fp = fingerprint(UNRELATED[0])
    # Pretend the unrelated text collided with the wire story in one band.
    key = next(iter(store.bands))
    forged = Fingerprint(signature=fp.signature, bands=(key, *fp.bands[1:]))
    decision = decide("other", forged, store.lookup)
    assert (decision.story_id, decision.duplicate_of) == ("other", None)


def test_replay_after_a_crash_gives_the_same_answer() -> None:
    store = _Store()
    texts = [("wire-1", WIRE), *[(f"copy-{i}", c) for i, c in enumerate(COPIES)],
             *[(f"other-{i}", t) for i, t in enumerate(UNRELATED)]]
    first_pass = {aid: store.process(aid, text) for aid, text in texts}
    # The table updates survived, the sends did not: everything is processed again.
    for aid, text in texts:
        again = store.process(aid, text)
        assert (again.story_id, again.duplicate_of) == (
            first_pass[aid].story_id, first_pass[aid].duplicate_of)
        assert again.record == ()  # nothing new to record


def test_replayed_original_stays_original_even_after_copies_were_seen() -> None:
    store = _Store()
    store.process("wire-1", WIRE)
    store.process("copy-0", COPIES[0])
    again = store.process("wire-1", WIRE)
    assert (again.story_id, again.duplicate_of) == ("wire-1", None)
