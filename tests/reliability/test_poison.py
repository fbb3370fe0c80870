"""The poison suite: every kind of bad input in one stream, one worker, nothing lost.

Each case in ``poison_cases`` is produced between good articles to an isolated namespace;
then every case must be accounted for (a dead letter with the expected stage and reason
and the original bytes, or a stored document that passes the case's check), every good
article indexed, published = indexed + dead-lettered, and the worker still alive and
still consuming: an article published after the poison is indexed too.
"""

from __future__ import annotations

from typing import Any

import pytest

from schemas import DeadLetter
from tests.reliability.poison_cases import Case, DeadLettered, Indexed, cases
from tests.support import Namespace, article_json

pytestmark = pytest.mark.stack

GOOD = 24
TIMEOUT = 150.0


def _interleave(poison: list[Case], good: list[tuple[bytes, bytes]]) -> list[tuple[Any, Any]]:
    """A good article after every few poison cases, so a stall or a lost batch shows."""
    step = -(-len(poison) // len(good))
    messages: list[tuple[Any, Any]] = []
    for i, pair in enumerate(good):
        messages.extend((c.key, c.value) for c in poison[i * step : (i + 1) * step])
        messages.append(pair)
    return messages


def _letter_for(case: Case, letters: dict[bytes | None, list[DeadLetter]]) -> list[DeadLetter]:
    if case.key is not None:
        return letters.get(case.key, [])
    return [x for x in letters.get(None, []) if x.payload() == (case.value or b"")]


def _account(
    case: Case, letters: dict[bytes | None, list[DeadLetter]], docs: dict[str, dict[str, Any]]
) -> str | None:
    """What is wrong with this case's outcome, or None."""
    got = _letter_for(case, letters)
    expect = case.expect
    if isinstance(expect, DeadLettered):
        if not got:
            where = "indexed" if any(case.name == d.get("id") for d in docs.values()) else "lost"
            return f"expected dead letter {expect.stage}/{expect.reason}, but {where}"
        if len(got) > 1:
            return f"dead-lettered {len(got)} times"
        letter = got[0]
        if (letter.stage, letter.reason) != (expect.stage, expect.reason):
            return (
                f"expected dead letter {expect.stage}/{expect.reason}, got "
                f"{letter.stage}/{letter.reason} ({letter.error[:120]})"
            )
        if letter.payload() != (case.value or b""):
            return "the dead letter does not carry the original bytes"
        if not letter.error or "\n" in letter.error:
            return f"the dead letter's error is not one line: {letter.error[:120]!r}"
        return None
    assert isinstance(expect, Indexed)
    if got:
        return (
            f"expected indexed as {expect.id!r}, got dead letter "
            f"{got[0].stage}/{got[0].reason} ({got[0].error[:160]})"
        )
    doc = docs.get(expect.id)
    if doc is None:
        return f"expected indexed as {expect.id!r}, but neither indexed nor dead-lettered"
    problem = expect.check(doc)
    return None if problem is None else f"indexed, but {problem}"


def _dead_letters(ns: Namespace, expect: int) -> tuple[int, dict[bytes | None, list[DeadLetter]]]:
    records = ns.consume(ns.settings.topics.deadletter, expect=expect, timeout=TIMEOUT)
    by_key: dict[bytes | None, list[DeadLetter]] = {}
    for record in records:
        by_key.setdefault(record.key, []).append(DeadLetter.model_validate_json(record.value))
    return len(records), by_key


def _docs(ns: Namespace, ids: list[str]) -> dict[str, dict[str, Any]]:
    found = ns.es.mget(index=ns.settings.index.articles, ids=ids)["docs"]
    return {d["_id"]: d["_source"] for d in found if d.get("found")}


def test_every_poison_case_is_dead_lettered_or_indexed_safely_and_the_worker_survives(
    namespace: Namespace,
) -> None:
    ns = namespace
    poison = cases()
    good = [(f"good-{i:03d}".encode(), article_json(i, id=f"good-{i:03d}")) for i in range(GOOD)]
    messages = _interleave(poison, good)
    assert len(messages) == len(poison) + GOOD
    ns.produce(messages)
    worker = ns.start_worker()

    expected_letters = sum(isinstance(c.expect, DeadLettered) for c in poison)
    expected_docs = GOOD + len(poison) - expected_letters
    n_letters, letters = _dead_letters(ns, expected_letters)
    indexed = ns.wait_for_count(expected_docs, timeout=TIMEOUT)

    poison_ids = [c.expect.id for c in poison if isinstance(c.expect, Indexed)]
    docs = _docs(ns, poison_ids)
    problems = [f"{c.name}: {p}" for c in poison if (p := _account(c, letters, docs))]
    good_ids = {key.decode() for key, _ in good}
    missing_good = sorted(good_ids - set(_docs(ns, sorted(good_ids))))
    if missing_good:
        problems.append(f"good articles not indexed: {missing_good}")
    assert not problems, (
        f"{len(problems)} of {len(poison)} poison cases misbehaved:\n  "
        + "\n  ".join(problems)
        + f"\n--- worker log (tail) ---\n{ns.logs()}"
    )

    # Nothing lost, nothing doubled: every message is exactly one document or one letter.
    assert (indexed, n_letters) == (expected_docs, expected_letters), ns.logs()
    assert indexed + n_letters == len(messages)

    # No stall: the same worker, still alive, takes an article published after the poison.
    assert worker.poll() is None, f"worker exited with {worker.returncode}\n{ns.logs()}"
    ns.produce([(b"good-after", article_json(999, id="good-after"))])
    assert ns.wait_for_count(expected_docs + 1, timeout=60) == expected_docs + 1, ns.logs()
    assert worker.poll() is None, f"worker exited with {worker.returncode}\n{ns.logs()}"
    log = (ns.tmp / "worker-0.log").read_text()
    assert "Crashed reason=" not in log, "an agent crashed (and stopped consuming):\n" + log[-6000:]

    total, _ = _dead_letters(ns, expected_letters)
    assert ns.count() + total == len(messages) + 1
