"""The monitor's tables and their queries: alert history, hang impacts, sentiment scores.

The tables live on the store's ``metadata`` (Alembic revision ``0003_monitor``); they are
written by the monitor's background tasks, never by the ingest path, each write in its own
short transaction (``Store.write``). Rows are plain values here: the monitor converts its own
types (``Alert``, ``HangImpact``, ``SentimentPoint``) to and from them, so that this package
does not depend on it. Upserts use ``INSERT ... ON CONFLICT``, which SQLite and PostgreSQL
share.

``pattern_inputs`` reads what pattern analysis needs from the receiver's own tables (calls,
messages, hangs, errors), so that ``GET /api/patterns`` is right after a restart and across
processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from callhook.store._queries import Json, Page, _after, _page, decode_cursor
from callhook.store._schema import (
    Id,
    arrivals,
    assistants,
    calls,
    errors,
    hangs,
    messages,
    metadata,
)

__all__ = [
    "alert_rows",
    "get_sentiment",
    "list_alerts",
    "list_hang_impacts",
    "monitor_alerts",
    "monitor_hang_impacts",
    "monitor_sentiment",
    "pattern_inputs",
    "save_alerts",
    "save_hang_impacts",
    "save_sentiment",
]

#: One row per alert (``alert_id`` is the monitor's ``Alert.id``), replaced on each change.
monitor_alerts = Table(
    "monitor_alerts",
    metadata,
    Column("pk", Id, primary_key=True, autoincrement=True),
    Column("alert_id", String, nullable=False, unique=True),
    Column("rule", String, nullable=False),
    Column("scope", String, nullable=False),
    Column("severity", String, nullable=False),
    # "firing" or "resolved" (the monitor's AlertState).
    Column("state", String, nullable=False),
    Column("summary", Text, nullable=False),
    Column("value", Float),
    Column("threshold", Float),
    Column("fired_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger),
    Column("call_id", String),
    Column("assistant_id", String),
    Column("provider", String),
    Column("suppressed", Integer, nullable=False),
    Column("notified", Boolean, nullable=False),
    Index(None, "fired_at", "pk"),
    Index(None, "state", "fired_at"),
)

#: One row per scored user message (VADER ``compound``), first score wins.
monitor_sentiment = Table(
    "monitor_sentiment",
    metadata,
    Column("pk", Id, primary_key=True, autoincrement=True),
    Column("call_id", String, nullable=False),
    Column("message_id", String, nullable=False),
    Column("ts", Float),
    Column("compound", Float, nullable=False),
    UniqueConstraint("call_id", "message_id"),
)

#: One row per hang (call, pending user message): what followed it, replaced on each change.
monitor_hang_impacts = Table(
    "monitor_hang_impacts",
    metadata,
    Column("pk", Id, primary_key=True, autoincrement=True),
    Column("call_id", String, nullable=False),
    Column("pending_message_id", String, nullable=False),
    Column("hang_at", BigInteger, nullable=False),
    # pending, recovered, errored, unanswered (the monitor's HangOutcome).
    Column("outcome", String, nullable=False),
    Column("response_message_id", String),
    Column("waited_ms", Float),
    Column("repeated", Boolean, nullable=False),
    Column("abandoned", Boolean, nullable=False),
    # The whole impact as JSON (stage, error code, repeat similarity, ...).
    Column("detail", Text, nullable=False),
    UniqueConstraint("call_id", "pending_message_id"),
    Index(None, "hang_at", "pk"),
)

Row = dict[str, Any]  # Any: column values of mixed types


def _insert(conn: Connection, table: Table) -> Any:  # Any: a dialect's Insert construct
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _upsert(conn: Connection, table: Table, rows: Sequence[Row], key: list[str]) -> None:
    if not rows:
        return
    statement = _insert(conn, table)
    changed = {c.name: statement.excluded[c.name] for c in table.c if c.name not in (*key, "pk")}
    conn.execute(statement.on_conflict_do_update(index_elements=key, set_=changed), list(rows))


def save_alerts(conn: Connection, rows: Sequence[Row]) -> None:
    """Insert or replace alerts by ``alert_id`` (rows keyed by column name)."""
    _upsert(conn, monitor_alerts, rows, ["alert_id"])


def save_hang_impacts(conn: Connection, rows: Sequence[Row]) -> None:
    """Insert or replace hang impacts by ``(call_id, pending_message_id)``."""
    _upsert(conn, monitor_hang_impacts, rows, ["call_id", "pending_message_id"])


def save_sentiment(conn: Connection, rows: Sequence[Row]) -> None:
    """Insert sentiment scores; a message already scored keeps its first score."""
    if rows:
        statement = _insert(conn, monitor_sentiment).on_conflict_do_nothing(
            index_elements=["call_id", "message_id"]
        )
        conn.execute(statement, list(rows))


# -- alerts ------------------------------------------------------------------------------------


def alert_rows(
    conn: Connection, *, since: int | None, state: str | None, limit: int, cursor: str | None = None
) -> tuple[list[Row], str | None]:
    """Alert rows fired at or after ``since`` (in ``state``), newest first, and the cursor
    of the next page."""
    query = select(monitor_alerts)
    if since is not None:
        query = query.where(monitor_alerts.c.fired_at >= since)
    if state is not None:
        query = query.where(monitor_alerts.c.state == state)
    keys = [monitor_alerts.c.fired_at, monitor_alerts.c.pk]
    if cursor is not None:
        query = query.where(_after(list(keys), decode_cursor(cursor, 2)))
    query = query.order_by(*(k.desc() for k in keys)).limit(limit + 1)
    rows = [dict(r._mapping) for r in conn.execute(query)]
    last = [rows[limit - 1]["fired_at"], rows[limit - 1]["pk"]] if len(rows) > limit else None
    page = _page(rows, limit, last)
    return page.items, page.next_cursor


def list_alerts(
    conn: Connection, *, since: int | None, state: str | None, cursor: str | None, limit: int
) -> Page:
    """Alerts for the API (camelCase), newest first; ``state`` is ``open`` or ``resolved``."""
    stored = {"open": "firing", "resolved": "resolved"}.get(state, state) if state else None
    rows, next_cursor = alert_rows(conn, since=since, state=stored, limit=limit, cursor=cursor)
    items = [
        {
            "id": r["alert_id"],
            "rule": r["rule"],
            "scope": r["scope"],
            "severity": r["severity"],
            "state": "open" if r["state"] == "firing" else r["state"],
            "summary": r["summary"],
            "value": r["value"],
            "threshold": r["threshold"],
            "firedAt": r["fired_at"],
            "updatedAt": r["updated_at"],
            "resolvedAt": r["resolved_at"],
            "callId": r["call_id"],
            "assistantId": r["assistant_id"],
            "provider": r["provider"],
        }
        for r in rows
    ]
    return Page(items, next_cursor)


# -- hang impacts and sentiment ----------------------------------------------------------------


def list_hang_impacts(
    conn: Connection, *, call_id: str | None, since: int | None, cursor: str | None, limit: int
) -> Page:
    """Hang impacts for the API (camelCase), newest hang first."""
    t = monitor_hang_impacts
    query = select(t)
    if call_id is not None:
        query = query.where(t.c.call_id == call_id)
    if since is not None:
        query = query.where(t.c.hang_at >= since)
    if cursor is not None:
        query = query.where(_after([t.c.hang_at, t.c.pk], decode_cursor(cursor, 2)))
    rows = conn.execute(query.order_by(t.c.hang_at.desc(), t.c.pk.desc()).limit(limit + 1)).all()
    items = [
        {
            "callId": r.call_id,
            "pendingMessageId": r.pending_message_id,
            "hangAt": r.hang_at,
            "recovered": r.outcome == "recovered",
            "responseMessageId": r.response_message_id,
            "waitedMs": r.waited_ms,
            "repeated": bool(r.repeated),
            "abandoned": bool(r.abandoned),
        }
        for r in rows
    ]
    key = [rows[limit - 1].hang_at, rows[limit - 1].pk] if len(rows) > limit else None
    return _page(items, limit, key)


def _whole(ts: float | None) -> float | int | None:
    """Epoch ms as an integer when it is one (the usual case), as sent otherwise."""
    return int(ts) if ts is not None and float(ts).is_integer() else ts


def get_sentiment(conn: Connection, call_id: str) -> Json | None:
    """A call's sentiment trajectory (by timestamp, then scoring order) and its average;
    ``None`` when the call is unknown (neither received nor scored)."""
    t = monitor_sentiment
    ts = func.coalesce(t.c.ts, 1e300)
    rows = conn.execute(
        select(t.c.message_id, t.c.ts, t.c.compound)
        .where(t.c.call_id == call_id)
        .order_by(ts, t.c.pk)
    ).all()
    if not rows:
        known = conn.execute(select(calls.c.pk).where(calls.c.call_id == call_id)).scalar()
        if known is None:
            return None
    trajectory = [
        {"messageId": r.message_id, "timestamp": _whole(r.ts), "compound": r.compound} for r in rows
    ]
    average = sum(r.compound for r in rows) / len(rows) if rows else None
    return {"callId": call_id, "average": average, "trajectory": trajectory}


# -- pattern analysis inputs -------------------------------------------------------------------


class _AssistantKeys(msgspec.Struct, rename="camel"):
    assistant_provider: object = None
    assistant_model: object = None


_ASSISTANT = msgspec.json.Decoder(_AssistantKeys)


def _assistant_keys(body: str | None) -> tuple[str | None, str | None]:
    if not body:
        return None, None
    try:
        keys = _ASSISTANT.decode(body)
    except msgspec.DecodeError:
        return None, None
    provider, model = keys.assistant_provider, keys.assistant_model
    return (
        provider if isinstance(provider, str) and provider else None,
        model if isinstance(model, str) and model else None,
    )


def pattern_inputs(
    conn: Connection, *, since: int | None, until: int | None
) -> tuple[list[Row], list[Row]]:
    """Calls started (first event) in ``[since, until)`` and hangs and errors of that window,
    as rows keyed like the monitor's ``CallRecord`` and ``IncidentRecord`` fields."""
    user_turns = (
        select(messages.c.call_pk, func.count().label("n"))
        .where(messages.c.role == "user")
        .group_by(messages.c.call_pk)
        .subquery()
    )
    started = func.coalesce(calls.c.first_ts, calls.c.created_at)
    query = (
        select(
            calls.c.pk,
            calls.c.call_id,
            started.label("started"),
            calls.c.assistant_id,
            calls.c.message_count,
            func.coalesce(user_turns.c.n, 0).label("turns"),
            assistants.c.body,
        )
        .outerjoin(user_turns, user_turns.c.call_pk == calls.c.pk)
        .outerjoin(assistants, assistants.c.digest == calls.c.assistant_digest)
    )
    call_rows: list[Row] = []
    by_pk: dict[int, tuple[str, str | None, str | None, str | None]] = {}
    for r in conn.execute(query):
        provider, model = _assistant_keys(r.body)
        by_pk[r.pk] = (r.call_id, r.assistant_id, provider, model)
        if (since is None or r.started >= since) and (until is None or r.started < until):
            call_rows.append(
                {
                    "call_id": r.call_id,
                    "started_at_ms": r.started,
                    "assistant_id": r.assistant_id,
                    "provider": provider,
                    "model": model,
                    "message_count": r.message_count,
                    "user_turns": r.turns,
                }
            )
    incidents: list[Row] = []

    def window(query: Any, column: Any) -> Any:  # Any: a Select and its column
        if since is not None:
            query = query.where(column >= since)
        if until is not None:
            query = query.where(column < until)
        return query

    hang_query = select(hangs.c.call_pk, hangs.c.event_ts, hangs.c.message_count, hangs.c.stage)
    for r in conn.execute(window(hang_query, hangs.c.event_ts)):
        call_id, assistant_id, provider, model = by_pk[r.call_pk]
        incidents.append(
            {
                "kind": "hang",
                "call_id": call_id,
                "at_ms": r.event_ts,
                "message_count": r.message_count,
                "assistant_id": assistant_id,
                "provider": provider,
                "model": model,
                "detail": r.stage,
            }
        )
    counts = (
        select(
            arrivals.c.call_pk, arrivals.c.event_ts, func.max(arrivals.c.message_count).label("n")
        )
        .where(arrivals.c.type == 5)
        .group_by(arrivals.c.call_pk, arrivals.c.event_ts)
        .subquery()
    )
    error_query = select(
        errors.c.call_pk, errors.c.event_ts, errors.c.error_type, errors.c.provider, counts.c.n
    ).outerjoin(
        counts, (counts.c.call_pk == errors.c.call_pk) & (counts.c.event_ts == errors.c.event_ts)
    )
    for r in conn.execute(window(error_query, errors.c.event_ts)):
        call_id, assistant_id, provider, model = by_pk[r.call_pk]
        incidents.append(
            {
                "kind": "error",
                "call_id": call_id,
                "at_ms": r.event_ts,
                "message_count": r.n or 0,
                "assistant_id": assistant_id,
                "provider": r.provider or provider,
                "model": model,
                "detail": r.error_type,
            }
        )
    return call_rows, incidents
