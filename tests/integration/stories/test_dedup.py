"""Syndicated copies get one story id across workers and restarts, on the real stack."""

from __future__ import annotations

import json
import time

import pytest

from tests.support import Namespace

pytestmark = pytest.mark.stack

STORY = (
    "TUCSON - Volunteers with a desert rescue group said on Friday that they had found "
    "water stations along a remote trail emptied and slashed for the third time this "
    "month, leaving migrants who walk the route at greater risk during the hottest weeks "
    "of the year. The group refills about forty blue barrels every weekend and records "
    "each visit with photographs and notes, which members shared with reporters at a "
    "small church that serves as their meeting point. Temperatures in the valley passed "
    "forty degrees Celsius on several afternoons, and the county medical examiner has "
    "reported more deaths from heat exposure than in any summer on record. A spokesperson "
    "for the federal land agency said rangers would increase patrols and that tampering "
    "with humanitarian supplies could lead to fines. Local ranchers interviewed at a "
    "feed store were divided: some said they left water out themselves, while others "
    "complained that the trails crossed their land without permission. The volunteers "
    "plan to install motion cameras near the most damaged stations and to ask the "
    "county board for money to replace the barrels with sturdier metal tanks next year."
)

OUTLETS = [
    ("Valley Courier", {"on Friday": "Friday"}),
    ("Border Dispatch", {"forty blue barrels": "40 blue barrels"}),
    ("Mountain Daily", {"TUCSON - ": "TUCSON, Ariz. -- "}),
    ("Coastal Times", {"were divided": "were split"}),
    ("Prairie Post", {"sturdier metal tanks": "sturdier steel tanks"}),
    ("River City News", {"small church": "small chapel"}),
]

UNRELATED = [
    "The regional orchestra announced a season of free concerts in public parks, with "
    "programs ranging from baroque suites to film music. The conductor said the idea came "
    "from audiences who could not afford tickets, and that each concert would end with a "
    "short talk about the instruments for children sitting near the stage.",
    "A bakery that has sold rye bread on the same corner for eighty years will close at "
    "the end of the month, its owners said, because the building is being sold. Regular "
    "customers lined up before dawn on Saturday to buy a last loaf and to leave notes of "
    "thanks on the window beside the old brass door handle.",
    "Engineers began testing a new signalling system on the northern commuter line, which "
    "should let trains run closer together during rush hour. The transport authority said "
    "passengers might see short delays during the tests, which will take place mostly at "
    "night and on Sunday mornings until the end of the autumn.",
    "Researchers at a coastal laboratory tagged twelve young sea turtles with small "
    "satellite trackers before releasing them from a beach at sunrise. The team hopes the "
    "data will show where the turtles spend their first years at sea, a period scientists "
    "still know very little about despite decades of study.",
    "The county library extended its opening hours on weekday evenings after a survey "
    "found that many residents could only visit after work. The library will also lend "
    "laptops and portable internet routers to students who need them for homework, "
    "starting with a pilot at the two largest branches downtown.",
]


def _copy(outlet: str, edits: dict[str, str]) -> str:
    body = STORY
    for old, new in edits.items():
        assert old in body
        body = body.replace(old, new)
    return f"From the {outlet} wire desk.\n\n{body}\n\nCopyright {outlet}. All rights reserved."


def _message(article_id: str, body: str, source: str) -> tuple[bytes, bytes]:
    return article_id.encode(), json.dumps({
        "id": article_id, "body": body, "source": source,
        "published_at": "2024-06-14T12:00:00Z",
    }).encode()


def _docs(ns: Namespace) -> dict[str, dict]:
    ns.es.indices.refresh(index=ns.settings.index.articles)
    hits = ns.es.search(index=ns.settings.index.articles, size=100,
                        source=["story_id", "duplicate_of"],
                        query={"match_all": {}})["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


def _wait_for_group(ns: Namespace, *, members: int) -> None:
    """Until the workers have settled: articles in flight while the group rebalances are
    test_two_workers.py's subject."""
    ns.wait_for_group(members, timeout=240)
    time.sleep(3)  # the new owner of the dedup partition recovers its tables


def test_syndicated_copies_share_the_first_copys_story_across_workers_and_restarts(
    namespace: Namespace,
) -> None:
    ns = namespace
    workers = [ns.start_worker(), ns.start_worker()]
    _wait_for_group(ns, members=2)
    ns.produce([_message("wire-original", STORY, "Wire Service")])
    assert ns.wait_for_count(1, timeout=240) == 1, ns.logs()

    copies = [(f"copy-{i}", _copy(outlet, edits)) for i, (outlet, edits) in enumerate(OUTLETS)]
    later_copy, copies = copies[-1], copies[:-1]
    others = [(f"other-{i}", body) for i, body in enumerate(UNRELATED)]
    ns.produce([_message(aid, body, "outlet") for aid, body in copies + others])
    assert ns.wait_for_count(11, timeout=240) == 11, ns.logs()

    docs = _docs(ns)
    assert docs["wire-original"] == {"story_id": "wire-original", "duplicate_of": None}
    for aid, _ in copies:
        assert docs[aid] == {"story_id": "wire-original", "duplicate_of": "wire-original"}, aid
    for aid, _ in others:
        assert docs[aid] == {"story_id": aid, "duplicate_of": None}, aid

    # Both workers die without committing or flushing anything; a new one must recover the
    # bands from the changelog, not from memory.
    for worker in workers:
        ns.kill_worker(worker)
    ns.start_worker()
    _wait_for_group(ns, members=1)
    ns.produce([_message(*later_copy, "outlet")])
    assert ns.wait_for_count(12, timeout=300) == 12, ns.logs()

    docs = _docs(ns)
    assert docs[later_copy[0]] == {"story_id": "wire-original", "duplicate_of": "wire-original"}
    # Whatever the new worker replayed was decided the same way again.
    assert docs["wire-original"] == {"story_id": "wire-original", "duplicate_of": None}
    assert {docs[aid]["story_id"] for aid, _ in copies} == {"wire-original"}
