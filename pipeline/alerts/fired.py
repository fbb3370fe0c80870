"""What the deliver stage remembers of each alert it handled, and for how long.

The ``alerts-fired`` table maps ``<rule id>/<alert id>`` to a ``Fired`` mark.  A mark says
what happened (sent, held for a throttle or digest, failed) and when, and for a failure
which of the rule's channels gave up, so that a replayed dead letter re-sends to those
channels only: a channel that took the alert does not get it twice.

Marks live ``alert_horizon_days`` (``expired``): an alert id that comes back later than
that after it was recorded is handled as new.  Marks written before marks carried a time
(plain ``"sent"``, ``"held"``, ``"failed"``) read as having no time and never expire.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

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
