"""What the deliver stage remembers of each alert it handled, and for how long.

The ``alerts-fired`` table maps ``<rule id>/<alert id>`` to a ``Fired`` mark.  A mark says
what happened (sent, held for a throttle or digest, failed) and when, and for a failure
which of the rule's channels gave up, so that a replayed dead letter re-sends to those
channels only: a channel that took the alert does not get it twice.

Marks live ``alert_horizon_days``: an alert id that comes back later than that after it
was recorded is handled as new.  Marks written before marks carried a time (plain
``"sent"``, ``"held"``, ``"failed"``) read as having no time and never expire.

Two ways to find the expired marks.  ``expired`` parses every mark it is given (tables in
memory: the whole table, each sweep).  With tables on disk, each mark derives one entry,
its time then its key (``time_entries``), that the table's store keeps sorted beside the
marks and updates in the same write (``pipeline.core.derived``); ``expired_in`` reads those
entries from the oldest up to the horizon and stops, so a sweep costs what expired, not
what the table holds.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pipeline.core.derived import Entries, sortable_time

State = Literal["sent", "held", "failed"]
_STATES = ("sent", "held", "failed")


@dataclass(frozen=True)
class Fired:
    state: State
    at: float | None = None  # Unix seconds when recorded
    channels: tuple[int, ...] = ()  # failed: positions in rule.channels; () means all

    @property
    def done(self) -> bool:
        """Nothing left to do for this alert: a copy or a replay of it is dropped."""
        return self.state != "failed"

    def to_text(self) -> str:
        data: dict[str, object] = {"state": self.state, "at": self.at}
        if self.channels:
            data["channels"] = list(self.channels)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str | None) -> Fired | None:
        if not text:
            return None
        if text in _STATES:  # a mark from before marks carried a time
            return cls(state=text)  # type: ignore[arg-type]
        data = json.loads(text)
        return cls(state=data["state"], at=data.get("at"),
                   channels=tuple(data.get("channels") or ()))


def outcome(failed_channels: Iterable[int], *, at: float) -> Fired:
    """The mark after one delivery: sent, or failed on the given channel positions."""
    failed = tuple(sorted(set(failed_channels)))
    return Fired("failed", at, failed) if failed else Fired("sent", at)


def expired(marks: Iterable[tuple[str, str]], *, now: float, horizon_seconds: float) -> list[str]:
    """Keys of the marks recorded more than ``horizon_seconds`` before ``now``."""
    cutoff = now - horizon_seconds
    gone = []
    for key, text in marks:
        mark = Fired.from_text(text)
        if mark is not None and mark.at is not None and mark.at < cutoff:
            gone.append(key)
    return gone


# --- the time index on disk -------------------------------------------------------------
# One derived entry per mark that has a time: "t" + recorded at (sortable_time) + key -> "".
_AT = b"t"
_AT_LENGTH = len(_AT + sortable_time(0))


def time_entries(key: str, text: str | None) -> list[tuple[bytes, bytes]]:
    """The time-index entry of the mark ``text`` stored under ``key`` (none for a mark
    without a time, which never expires)."""
    mark = Fired.from_text(text)
    if mark is None or mark.at is None:
        return []
    return [(_AT + sortable_time(mark.at) + key.encode(), b"")]


def expired_in(entries: Entries, *, now: float, horizon_seconds: float,
               limit: int) -> list[str]:
    """Keys of the marks recorded more than ``horizon_seconds`` before ``now``, oldest
    first, at most ``limit`` (the next sweep takes the rest)."""
    stop = _AT + sortable_time(now - horizon_seconds)
    return [entry[_AT_LENGTH:].decode()
            for entry, _ in itertools.islice(entries.scan(_AT, stop=stop), limit)]
