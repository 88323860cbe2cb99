"""Alerts, their lifecycle (deduplication, suppression, resolution) and their history.

A rule reports a ``Condition`` for one alert key (``rule`` + ``scope``, e.g. ``hang_rate`` /
``global`` or ``provider_error_rate`` / ``provider=openai``): a severity while the condition
holds, ``None`` once it clears. ``AlertBook`` turns that stream into alerts and notices:

- the first firing opens an ``Alert`` and yields a ``firing`` notice;
- while it stays open, the same severity yields nothing (deduplication); a higher one yields an
  ``escalated`` notice; a lower one updates the alert silently;
- a clearing condition closes it with a ``resolved`` notice; a resolved alert keeps the value
  and summary it last fired with, the clearing summary added as ``; at resolution: ...``;
- a ``firing`` notice for a key already notified less than ``suppress_s`` ago is suppressed:
  the alert is still opened and stored, its ``suppressed`` count grows, no sink is called.

One-shot alerts (each hang, each error) open and are notified like the others; a hang alert
resolves when the late response arrives or the call ends, an error alert when no error of the
same type, provider and code has come for ``suppress_s``.
"""

from __future__ import annotations

import enum
import secrets
from typing import Protocol

import msgspec

__all__ = [
    "Alert",
    "AlertBook",
    "AlertState",
    "AlertStore",
    "Condition",
    "InMemoryAlertStore",
    "Notice",
    "NoticeKind",
    "RuleId",
    "Severity",
]


class RuleId(enum.StrEnum):
    RESPONSE_TIME_P95 = "response_time_p95"
    HANG_RATE = "hang_rate"
    PROVIDER_ERROR_RATE = "provider_error_rate"
    LLM_ERROR_RATE = "llm_error_rate"
    STT_ERROR_RATE = "stt_error_rate"
    PROVIDER_RESPONSE_TIME = "provider_response_time"
    SYSTEMIC_HANGS = "systemic_hangs"
    STALE_CALL = "stale_call"
    HANG = "hang"
    ERROR = "error"


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlertState(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class NoticeKind(enum.StrEnum):
    FIRING = "firing"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class Condition(msgspec.Struct, frozen=True, kw_only=True):
    """What a rule found for one key at one moment; ``severity=None`` means "clear"."""

    rule: RuleId
    scope: str
    severity: Severity | None
    summary: str = ""
    value: float | None = None
    threshold: float | None = None
    call_id: str | None = None
    assistant_id: str | None = None
    provider: str | None = None


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """One alert, as stored and as sent to sinks. Times are epoch milliseconds (the monitor's
    clock, like the receiver's ``received_at``)."""

    id: str
    rule: RuleId
    scope: str
    severity: Severity
    state: AlertState
    summary: str
    value: float | None
    threshold: float | None
    fired_at_ms: int
    updated_at_ms: int
    resolved_at_ms: int | None = None
    call_id: str | None = None
    assistant_id: str | None = None
    provider: str | None = None
    #: Firing notices for this key held back by the suppression window before this one.
    suppressed: int = 0
    #: Whether its firing was sent to the sinks (a suppressed alert also resolves silently).
    notified: bool = True

    @property
    def key(self) -> tuple[RuleId, str]:
        return (self.rule, self.scope)


class Notice(msgspec.Struct, frozen=True, kw_only=True):
    """A message for the sinks: an alert that fired, escalated or resolved."""

    kind: NoticeKind
    alert: Alert

    @property
    def text(self) -> str:
        """One line, Slack-compatible: ``[CRITICAL] hang_rate global firing: ...``."""
        a = self.alert
        suffix = f" ({a.suppressed} earlier firing(s) suppressed)" if a.suppressed else ""
        return f"[{a.severity.upper()}] {a.rule} {a.scope} {self.kind}: {a.summary}{suffix}"


class AlertStore(Protocol):
    """Alert history. ``save`` inserts or replaces by ``Alert.id`` (an alert is saved when it
    opens and again on each change); ``list`` returns alerts fired at or after ``since_ms``
    (and in ``state``, when given), newest ``fired_at_ms`` first, at most ``limit``."""

    async def save(self, alert: Alert) -> None: ...

    async def list(
        self, *, since_ms: int | None = None, state: AlertState | None = None, limit: int = 100
    ) -> list[Alert]: ...


class InMemoryAlertStore:
    """An ``AlertStore`` in a dict, keeping the newest ``capacity`` alerts."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._alerts: dict[str, Alert] = {}

    async def save(self, alert: Alert) -> None:
        self._alerts.pop(alert.id, None)
        self._alerts[alert.id] = alert
        while len(self._alerts) > self.capacity:
            del self._alerts[next(iter(self._alerts))]

    async def list(
        self, *, since_ms: int | None = None, state: AlertState | None = None, limit: int = 100
    ) -> list[Alert]:
        found = [
            a
            for a in self._alerts.values()
            if (since_ms is None or a.fired_at_ms >= since_ms)
            and (state is None or a.state == state)
        ]
        found.sort(key=lambda a: a.fired_at_ms, reverse=True)
        return found[:limit]


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class AlertBook:
    """Open alerts by key and the notification bookkeeping (pure; ``now`` in epoch seconds)."""

    def __init__(self, suppress_s: float) -> None:
        self.suppress_s = suppress_s
        self._open: dict[tuple[RuleId, str], Alert] = {}
        self._last_notified: dict[tuple[RuleId, str], float] = {}
        self._held: dict[tuple[RuleId, str], int] = {}
        self._serial = 0
        # Several monitors (one per receiver process) may share one database: ids made by
        # different books must differ even for the same rule, scope and millisecond.
        self._book = secrets.token_hex(4)

    def open_alerts(self) -> list[Alert]:
        return list(self._open.values())

    def get(self, rule: RuleId, scope: str) -> Alert | None:
        return self._open.get((rule, scope))

    def apply(self, condition: Condition, now: float) -> tuple[list[Alert], list[Notice]]:
        """Update the book; returns the alerts to save and the notices to send."""
        key = (condition.rule, condition.scope)
        current = self._open.get(key)
        if condition.severity is None:
            if current is None:
                return [], []
            del self._open[key]
            # The summary keeps the one of its value (the last while firing) and adds how it
            # resolved: the cleared state's summary alone beside the firing value would
            # contradict it.
            summary = current.summary
            if condition.summary and condition.summary != current.summary:
                summary = f"{summary}; at resolution: {condition.summary}"
            resolved = msgspec.structs.replace(
                current,
                state=AlertState.RESOLVED,
                resolved_at_ms=_ms(now),
                updated_at_ms=_ms(now),
                summary=summary,
            )
            if not current.notified:
                return [resolved], []
            return [resolved], [Notice(kind=NoticeKind.RESOLVED, alert=resolved)]
        if current is None:
            return self._fire(condition, key, now)
        changed = msgspec.structs.replace(
            current,
            severity=condition.severity,
            summary=condition.summary or current.summary,
            value=condition.value,
            threshold=condition.threshold,
            updated_at_ms=_ms(now),
        )
        self._open[key] = changed
        if condition.severity.rank > current.severity.rank:
            self._last_notified[key] = now
            changed = msgspec.structs.replace(changed, notified=True)
            self._open[key] = changed
            return [changed], [Notice(kind=NoticeKind.ESCALATED, alert=changed)]
        if condition.severity != current.severity:
            return [changed], []
        return [], []  # deduplicated: nothing new to store or say

    def _fire(
        self, condition: Condition, key: tuple[RuleId, str], now: float
    ) -> tuple[list[Alert], list[Notice]]:
        self._serial += 1
        last = self._last_notified.get(key)
        suppressed = last is not None and now - last < self.suppress_s
        alert = Alert(
            id=f"{condition.rule}:{condition.scope}:{_ms(now)}:{self._book}-{self._serial}",
            rule=condition.rule,
            scope=condition.scope,
            severity=condition.severity or Severity.WARNING,
            state=AlertState.FIRING,
            summary=condition.summary,
            value=condition.value,
            threshold=condition.threshold,
            fired_at_ms=_ms(now),
            updated_at_ms=_ms(now),
            call_id=condition.call_id,
            assistant_id=condition.assistant_id,
            provider=condition.provider,
            suppressed=0 if suppressed else self._held.pop(key, 0),
            notified=not suppressed,
        )
        self._open[key] = alert
        if suppressed:
            self._held[key] = self._held.get(key, 0) + 1
            return [alert], []
        self._last_notified[key] = now
        return [alert], [Notice(kind=NoticeKind.FIRING, alert=alert)]

    def prune(self, now: float, *, keep_s: float) -> None:
        """Forget notification times (and held counts) older than ``keep_s`` and the
        suppression window, so that the book does not grow with every key ever seen."""
        horizon = now - max(keep_s, self.suppress_s)
        for key in [k for k, t in self._last_notified.items() if t < horizon]:
            del self._last_notified[key]
            self._held.pop(key, None)
