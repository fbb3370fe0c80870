"""What the deliver stage did with each alert, and what waits for a throttle or a digest.

Two key-value stores (in the worker, changelog-backed Faust tables; in tests, dicts):
``fired`` maps ``<rule id>/<alert id>`` to a ``Fired`` mark (sent, held or failed, when, and
which channels failed), so a replayed alert is never sent twice — except to the channels
that failed, when its dead letter is replayed; ``pending`` maps a rule id to its ``Pending``
JSON (when it last sent a message, which alerts wait for the next one).  Every key starts
with the rule id, so one worker (the owner of the rule's partition) holds all of a rule's
state.

Write order matters for a crash between two writes: ``pending`` is written before ``fired``,
and ``is_new`` checks both, so an alert is never lost between them nor sent twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping, Sequence

from pipeline.alerts.fired import Fired, expired, outcome
from pipeline.alerts.rulebook import Pending, due_at, sends_at_once
from schemas import Alert, AlertRule


def fired_key(alert: Alert) -> str:
    return f"{alert.rule_id}/{alert.id}"


class AlertLedger:
    def __init__(self, fired: MutableMapping[str, str], pending: MutableMapping[str, str]):
        self._fired = fired
        self._pending = pending

    def state(self, rule_id: str) -> Pending:
        return Pending.from_json(self._pending.get(rule_id))

    def is_new(self, alert: Alert) -> bool:
        """Neither sent, held nor failed before (its ``fired`` record may have been lost in a
        crash while the alert still waits in ``pending``)."""
        mark = Fired.from_text(self._fired.get(fired_key(alert)))
        return (mark is None or not mark.done) and not self.state(alert.rule_id).holds(alert.id)

    def write_again(self, alert: Alert) -> None:
        """Write an alert's records once more, unchanged (for one that is not new).

        Why: the tables are on local disk, so a worker killed after its local write but
        before the changelog took it keeps the record on its own disk only; the replayed
        alert finds it there and is dropped, and the changelog never gets it.  Written again,
        it reaches the changelog, so the worker that owns the rule next knows it too.
        """
        key = fired_key(alert)
        mark = self._fired.get(key)
        if mark is not None:
            self._fired[key] = mark
        waiting = self._pending.get(alert.rule_id)
        if waiting is not None and Pending.from_json(waiting).holds(alert.id):
            self._pending[alert.rule_id] = waiting

    def retry_channels(self, alert: Alert) -> tuple[int, ...] | None:
        """For an alert that failed before: the channel positions to send it to again
        (``()``: all); None for any other alert."""
        mark = Fired.from_text(self._fired.get(fired_key(alert)))
        return mark.channels if mark is not None and not mark.done else None

    def sends_now(self, rule: AlertRule, *, now: float) -> bool:
        """Whether an alert of ``rule`` arriving ``now`` goes out at once (else: ``hold``)."""
        if sends_at_once(rule):
            return True
        state = self.state(rule.id)
        return not state.alerts and due_at(rule, now=now, last_sent=state.last_sent) <= now

    def sent(self, rule: AlertRule, alert: Alert, *, failed: Sequence[int], now: float) -> None:
        """Record a message sent for one alert; ``failed``: positions of the channels that
        gave up on it."""
        if not sends_at_once(rule):
            state = self.state(rule.id)
            state.last_sent = now
            self._pending[rule.id] = state.to_json()
        self._fired[fired_key(alert)] = outcome(failed, at=now).to_text()

    def hold(self, rule: AlertRule, alert: Alert, *, now: float) -> None:
        """Keep ``alert`` for the rule's next message (throttle gap or digest period)."""
        state = self.state(rule.id)
        if not state.alerts:
            state.due = due_at(rule, now=now, last_sent=state.last_sent)
        state.alerts.append(alert)
        self._pending[rule.id] = state.to_json()  # before ``fired``: see the module doc
        self._fired[fired_key(alert)] = Fired("held", now).to_text()

    def due_rules(self, *, now: float, owned: Callable[[str], bool]) -> list[str]:
        """Rules (of those ``owned`` here) whose waiting alerts are due."""
        return [rule_id for rule_id, text in list(self._pending.items())
                if owned(rule_id) and _is_due(Pending.from_json(text), now)]

    def waiting(self, rule_id: str, *, now: float) -> list[Alert]:
        """The alerts of ``rule_id`` to send now as one message, or none if not due."""
        state = self.state(rule_id)
        return list(state.alerts) if _is_due(state, now) else []

    def flushed(self, rule: AlertRule | None, rule_id: str, alerts: list[Alert], *,
                now: float, failed: Sequence[int] = ()) -> None:
        """``alerts`` went out (or were dropped with their deleted or disabled ``rule``);
        ``failed``: positions of the channels that gave up on the message."""
        if rule is not None:
            mark = outcome(failed, at=now).to_text()
            for alert in alerts:
                self._fired[fired_key(alert)] = mark
        state = self.state(rule_id)
        state.alerts = state.without(alert.id for alert in alerts)
        state.last_sent = now
        state.due = due_at(rule, now=now, last_sent=now) if state.alerts and rule else None
        self._pending[rule_id] = state.to_json()


    def expired_marks(self, *, now: float, horizon_seconds: float,
                      owned: Callable[[str], bool]) -> list[str]:
        """Keys of the ``fired`` marks recorded more than ``horizon_seconds`` before ``now``
        in the rules ``owned`` here, found by reading every mark: for tables in memory (on
        disk, ``fired.expired_in`` reads only the expired ones)."""
        marks = [(k, v) for k, v in list(self._fired.items()) if owned(k.split("/", 1)[0])]
        return expired(marks, now=now, horizon_seconds=horizon_seconds)

    def idle_rules(self, *, now: float, horizon_seconds: float,
                   owned: Callable[[str], bool]) -> list[str]:
        """Rules ``owned`` here whose ``pending`` state is past the horizon: idle that long
        with nothing waiting (one state per rule: reading them all is cheap)."""
        return [rule_id for rule_id, text in list(self._pending.items())
                if owned(rule_id)
                and Pending.from_json(text).expired(now=now, horizon_seconds=horizon_seconds)]

    def forget_marks(self, keys: Iterable[str], *, now: float,
                     horizon_seconds: float) -> int:
        """Delete the marks of ``keys`` that are still past the horizon (tombstones in the
        changelog); returns how many.  Checked again here because ``keys`` were found
        earlier, maybe in another thread: a mark written since (its alert replayed) stays."""
        gone = 0
        for key in keys:
            if expired([(key, self._fired.get(key) or "")], now=now,
                       horizon_seconds=horizon_seconds):
                del self._fired[key]
                gone += 1
        return gone


def _is_due(state: Pending, now: float) -> bool:
    return bool(state.alerts) and (state.due or 0.0) <= now
