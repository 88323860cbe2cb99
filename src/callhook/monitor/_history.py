"""The monitor's history in the receiver's database: alerts, hang impacts, sentiment scores.

``SqlAlertStore(store)`` is an ``AlertStore`` on a ``callhook.store.Store`` (tables of the
Alembic revision ``0003_monitor``) and a ``MonitorHistory``: the monitor hands it each alert
change, each hang impact that changed and each new sentiment score as they happen (``save``
and ``record_*`` only buffer them); a named task (``callhook-monitor-history``) writes what
has accumulated over ``interval_s`` in one transaction, and ends when nothing is left.
``flush`` writes at once and waits. Writing in batches matters: every transaction on SQLite
takes the database's one write lock and an fsync, which the ingest path's group commit then
waits for; one monitor transaction per ``interval_s`` keeps that cost flat under load.
A failed write is logged (``monitor.history_failed``) and counted, never retried in a loop.

``stored_patterns`` runs ``analyze_patterns`` over the store's calls, messages, hangs and
errors tables, so that its answer does not depend on what one process remembers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from callhook._exceptions import StorageError
from callhook.monitor._alerts import Alert, AlertState, RuleId, Severity
from callhook.monitor._impact import HangImpact
from callhook.monitor._patterns import (
    CallRecord,
    Dimension,
    IncidentRecord,
    PatternRow,
    analyze_patterns,
)
from callhook.monitor._sentiment import SentimentPoint
from callhook.store import (
    Store,
    alert_rows,
    pattern_inputs,
    save_alerts,
    save_hang_impacts,
    save_sentiment,
)

__all__ = ["MonitorHistory", "SqlAlertStore", "stored_patterns"]

logger = logging.getLogger("callhook.monitor")

Row = dict[str, Any]  # Any: column values of mixed types


@runtime_checkable
class MonitorHistory(Protocol):
    """Where a ``Monitor`` keeps hang impacts and sentiment scores (optional: an
    ``AlertStore`` that also implements this gets them)."""

    def record_impacts(self, impacts: Sequence[HangImpact]) -> None: ...

    def record_sentiment(self, call_id: str, points: Sequence[SentimentPoint]) -> None: ...

    async def flush(self) -> None: ...


def _alert_row(alert: Alert) -> Row:
    return {
        "alert_id": alert.id,
        "rule": str(alert.rule),
        "scope": alert.scope,
        "severity": str(alert.severity),
        "state": str(alert.state),
        "summary": alert.summary,
        "value": alert.value,
        "threshold": alert.threshold,
        "fired_at": alert.fired_at_ms,
        "updated_at": alert.updated_at_ms,
        "resolved_at": alert.resolved_at_ms,
        "call_id": alert.call_id,
        "assistant_id": alert.assistant_id,
        "provider": alert.provider,
        "suppressed": alert.suppressed,
        "notified": alert.notified,
    }


def _alert(row: Row) -> Alert:
    return Alert(
        id=row["alert_id"],
        rule=RuleId(row["rule"]),
        scope=row["scope"],
        severity=Severity(row["severity"]),
        state=AlertState(row["state"]),
        summary=row["summary"],
        value=row["value"],
        threshold=row["threshold"],
        fired_at_ms=row["fired_at"],
        updated_at_ms=row["updated_at"],
        resolved_at_ms=row["resolved_at"],
        call_id=row["call_id"],
        assistant_id=row["assistant_id"],
        provider=row["provider"],
        suppressed=row["suppressed"],
        notified=bool(row["notified"]),
    )


def _impact_row(impact: HangImpact) -> Row:
    return {
        "call_id": impact.call_id,
        "pending_message_id": impact.pending_message_id,
        "hang_at": round(impact.hung_at_ms),
        "outcome": str(impact.outcome),
        "response_message_id": impact.response_message_id,
        "waited_ms": impact.waited_ms,
        "repeated": impact.repeated,
        "abandoned": impact.abandoned,
        "detail": msgspec.json.encode(impact).decode(),
    }


def _write_history(
    c: Connection, *, alerts: list[Row], impacts: list[Row], scores: list[Row]
) -> None:
    save_alerts(c, alerts)
    save_hang_impacts(c, impacts)
    save_sentiment(c, scores)


class SqlAlertStore:
    """``AlertStore`` and ``MonitorHistory`` on the receiver's ``Store`` (SQLite or
    PostgreSQL). The store must be open while the monitor uses this. Changes reach the
    database within ``interval_s`` (at once on ``flush``)."""

    def __init__(self, store: Store, *, interval_s: float = 0.5) -> None:
        self._store = store
        self.interval_s = interval_s
        self._alerts: dict[str, Alert] = {}
        self._impacts: dict[tuple[str, str], HangImpact] = {}
        self._scores: list[Row] = []
        self._task: asyncio.Task[None] | None = None
        self._now = asyncio.Event()
        #: Alerts, impacts and scores lost to failed writes.
        self.failures = 0

    # -- AlertStore --------------------------------------------------------------------------

    async def save(self, alert: Alert) -> None:
        """Buffer ``alert`` (a later change of the same alert replaces it)."""
        self._alerts[alert.id] = alert
        self._kick()

    async def list(
        self, *, since_ms: int | None = None, state: AlertState | None = None, limit: int = 100
    ) -> list[Alert]:
        def query(c: Connection) -> list[Row]:
            kind = str(state) if state is not None else None
            return alert_rows(c, since=since_ms, state=kind, limit=limit)[0]

        return [_alert(row) for row in await self._store.read(query)]

    # -- MonitorHistory ----------------------------------------------------------------------

    def record_impacts(self, impacts: Sequence[HangImpact]) -> None:
        for impact in impacts:
            self._impacts[impact.call_id, impact.pending_message_id] = impact
        self._kick()

    def record_sentiment(self, call_id: str, points: Sequence[SentimentPoint]) -> None:
        for p in points:
            self._scores.append(
                {"call_id": call_id, "message_id": p.message_id, "ts": p.timestamp_ms,
                 "compound": p.compound}
            )  # fmt: skip
        self._kick()

    async def flush(self) -> None:
        """Write everything buffered now and wait until it is written (or failed)."""
        while self._task is not None and not self._task.done():
            self._now.set()
            await asyncio.wait([self._task])

    def _pending(self) -> bool:
        return bool(self._alerts or self._impacts or self._scores)

    def _kick(self) -> None:
        if self._pending() and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._write_loop(), name="callhook-monitor-history")

    async def _write_loop(self) -> None:
        while self._pending():
            if not self._now.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._now.wait(), self.interval_s)
            alerts = [_alert_row(a) for a in self._alerts.values()]
            impacts = [_impact_row(i) for i in self._impacts.values()]
            scores = self._scores
            self._alerts, self._impacts, self._scores = {}, {}, []
            write = functools.partial(_write_history, alerts=alerts, impacts=impacts, scores=scores)
            try:
                await self._store.write(write)
            except (SQLAlchemyError, StorageError) as exc:
                self.failures += len(alerts) + len(impacts) + len(scores)
                logger.warning(
                    "monitor.history_failed alerts=%s impacts=%s scores=%s: %s",
                    len(alerts),
                    len(impacts),
                    len(scores),
                    type(exc).__name__,
                )
        self._now.clear()


async def stored_patterns(
    store: Store,
    dimension: Dimension | str,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> list[PatternRow]:
    """``analyze_patterns`` over the calls, hangs and errors in ``store`` (in a reader
    thread: the event loop does none of the work)."""
    dim = Dimension(dimension)

    def run(c: Connection) -> list[PatternRow]:
        call_rows, incident_rows = pattern_inputs(c, since=since_ms, until=until_ms)
        calls = msgspec.convert(call_rows, list[CallRecord])
        incidents = msgspec.convert(incident_rows, list[IncidentRecord])
        return analyze_patterns(calls, incidents, dim, since_ms=since_ms, until_ms=until_ms)

    return await store.read(run)
