"""The read side: what the query API asks of the database.

Each function takes a ``Connection`` (``Store.read`` supplies one) and returns JSON-ready
values; stored JSON comes back as ``msgspec.Raw`` so it is never parsed and re-encoded.
Lists are keyset-paginated: a ``Page`` has the items and an opaque ``next_cursor``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import JSON, ColumnElement, Connection, and_, cast, func, or_, select

from callhook.store._blob import unpack
from callhook.store._listing import (
    DEFAULT_PLATFORM,
    calls_with_text,
    listing_facts,
    redact_assistant,
)
from callhook.store._schema import (
    EVENT_NAMES,
    arrivals,
    assistants,
    calls,
    errors,
    hangs,
    messages,
    status_history,
    unattributed,
)

__all__ = [
    "CallFilter",
    "InvalidCursor",
    "Page",
    "get_call",
    "list_calls",
    "list_errors",
    "list_events",
    "list_hangs",
    "list_messages",
    "list_unattributed",
]

#: A JSON object as produced for the API (values may be ``msgspec.Raw``).
Json = dict[str, Any]  # Any: JSON values


class InvalidCursor(ValueError):
    """A ``cursor`` parameter that this API did not hand out."""


@dataclass(frozen=True, slots=True)
class Page:
    #: JSON-ready items (objects, or ``msgspec.Raw`` stored JSON for messages).
    items: list[Any]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class CallFilter:
    """Filters shared by the list queries; ``None`` means no filter. Times are epoch ms."""

    status: str | None = None
    assistant_id: str | None = None
    since: int | None = None
    until: int | None = None
    has_hang: bool | None = None
    has_error: bool | None = None
    call_id: str | None = None
    error_type: str | None = None
    code: str | None = None
    provider: str | None = None
    #: The platform the call came from: ``interactly`` (callhook's own shape), ``vapi`` or
    #: ``retell`` (``call.platform``, set by the receiver's normalization).
    platform: str | None = None
    #: Case-insensitive substring of the call id, its call fields, its end-of-call report, or
    #: (among the newest calls, see ``_search.py``) a message's text.
    search: str | None = None


def _raw(text: str | None) -> msgspec.Raw | None:
    return msgspec.Raw(text.encode()) if text is not None else None


def encode_cursor(values: list[int]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(values)).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[int]:
    try:
        values = msgspec.json.decode(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)), type=list[int]
        )
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidCursor("The cursor is not one this API returned; start without it") from None
    if len(values) != size:
        raise InvalidCursor("The cursor belongs to another list; start without it")
    if not all(-(2**63) <= value < 2**63 for value in values):  # what BIGINT columns hold
        raise InvalidCursor("The cursor is not one this API returned; start without it")
    return values


def _after(
    keys: list[ColumnElement[Any]], values: list[int]
) -> ColumnElement[bool]:  # Any: sort keys
    """Rows strictly after ``values`` in descending order of ``keys``."""
    first, *rest = keys
    if not rest:
        return first < values[0]
    return or_(first < values[0], and_(first == values[0], _after(rest, values[1:])))


def _page(rows: list[Any], limit: int, key: list[int] | None) -> Page:  # Any: JSON items
    if len(rows) > limit:
        return Page(rows[:limit], encode_cursor(key) if key is not None else None)
    return Page(rows, None)


# -- calls -------------------------------------------------------------------------------------


def _call_summary(row: Any) -> Json:  # Any: a calls row (with or without extra labels)
    return {
        "callId": row.call_id,
        "status": row.status,
        "assistantId": row.assistant_id,
        "firstTimestamp": row.first_ts,
        "lastTimestamp": row.last_ts,
        "messageCount": row.message_count,
        "hangCount": row.hang_count,
        "errorCount": row.error_count,
        "eventCount": row.event_count,
        "duplicateCount": row.duplicate_count,
        "hasReport": row.report is not None,
    }


def platform_of(conn: Connection) -> ColumnElement[Any]:  # Any: a SQL text expression
    """The SQL expression of a call's platform: ``call.platform`` of its merged fields, or
    ``interactly`` when no event named one."""
    if conn.dialect.name == "postgresql":
        value = func.json_extract_path_text(cast(calls.c.fields, JSON), "platform")
    else:
        value = func.json_extract(calls.c.fields, "$.platform")
    return func.coalesce(value, DEFAULT_PLATFORM)


def list_calls(conn: Connection, where: CallFilter, cursor: str | None, limit: int) -> Page:
    """Calls, newest first, with filters; ``since``/``until`` bound the first event timestamp.

    Newest first means in the order the receiver first heard of each call (descending
    ``pk``): pages on a key that never changes, so a call cannot repeat or be skipped
    between pages, whereas its first event timestamp moves when a late, older event arrives.
    """
    first = func.coalesce(calls.c.first_ts, 0)
    query = select(calls)
    if where.status is not None:
        query = query.where(calls.c.status == where.status)
    if where.assistant_id is not None:
        query = query.where(calls.c.assistant_id == where.assistant_id)
    if where.since is not None:
        query = query.where(first >= where.since)
    if where.until is not None:
        query = query.where(first < where.until)
    if where.has_hang is not None:
        query = query.where((calls.c.hang_count > 0) == where.has_hang)
    if where.has_error is not None:
        query = query.where((calls.c.error_count > 0) == where.has_error)
    if where.platform is not None:
        query = query.where(platform_of(conn) == where.platform)
    if where.search:
        escaped = where.search.lower().replace("\\", "\\\\")
        pattern = "%" + escaped.replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (
                        calls.c.call_id,
                        calls.c.fields,
                        func.coalesce(calls.c.report, ""),
                    )
                ),
                calls.c.pk.in_(sorted(calls_with_text(conn, where.search))),
            )
        )
    if cursor is not None:
        query = query.where(calls.c.pk < decode_cursor(cursor, 1)[0])
    query = query.order_by(calls.c.pk.desc()).limit(limit + 1)
    rows = conn.execute(query).all()
    facts = listing_facts(conn, list(rows))
    items = [{**_call_summary(row), **extra} for row, extra in zip(rows, facts, strict=True)]
    key = [rows[limit - 1].pk] if len(rows) > limit else None
    return _page(items, limit, key)


def get_call(conn: Connection, call_id: str) -> Json | None:
    """One call: merged state, status history, assistant (and its provider and model, as the
    calls list shows them), report and counts."""
    row = conn.execute(select(calls).where(calls.c.call_id == call_id)).first()
    if row is None:
        return None
    history = conn.execute(
        select(status_history.c.status, status_history.c.first_ts)
        .where(status_history.c.call_pk == row.pk)
        .order_by(status_history.c.rank, status_history.c.first_ts, status_history.c.status)
    ).all()
    assistant = None
    if row.assistant_digest is not None:
        assistant = conn.execute(
            select(assistants.c.body).where(assistants.c.digest == row.assistant_digest)
        ).scalar()
    report = msgspec.json.decode(row.report, type=dict[str, msgspec.Raw]) if row.report else {}
    (facts,) = listing_facts(conn, [row])
    return {
        **_call_summary(row),
        "provider": facts["provider"],
        "model": facts["model"],
        "call": _raw(row.fields),
        "statusHistory": [{"status": h.status, "timestamp": h.first_ts} for h in history],
        "assistant": redact_assistant(assistant),
        "analysis": report.get("analysis"),
        "cost": report.get("cost"),
        "report": _raw(row.report),
    }


def list_messages(conn: Connection, call_id: str, cursor: str | None, limit: int) -> Page | None:
    """A call's messages by timestamp, then position in the history, then arrival."""
    pk = conn.execute(select(calls.c.pk).where(calls.c.call_id == call_id)).scalar()
    if pk is None:
        return None
    ts = func.coalesce(messages.c.ts, -1)
    query = select(messages.c.body, ts.label("sort_ts"), messages.c.position, messages.c.seq)
    query = query.where(messages.c.call_pk == pk)
    if cursor is not None:
        a, b, c = decode_cursor(cursor, 3)
        later = or_(
            ts > a,
            and_(
                ts == a,
                or_(messages.c.position > b, and_(messages.c.position == b, messages.c.seq > c)),
            ),
        )
        query = query.where(later)
    query = query.order_by(ts, messages.c.position, messages.c.seq).limit(limit + 1)
    rows = conn.execute(query).all()
    items = [msgspec.Raw(unpack(r.body)) for r in rows]
    key = None
    if len(rows) > limit:
        last = rows[limit - 1]
        key = [last.sort_ts, last.position, last.seq]
    return _page(items, limit, key)


def list_events(conn: Connection, call_id: str, cursor: str | None, limit: int) -> Page | None:
    """Each distinct event of a call in order of first arrival."""
    pk = conn.execute(select(calls.c.pk).where(calls.c.call_id == call_id)).scalar()
    if pk is None:
        return None
    query = select(arrivals).where(arrivals.c.call_pk == pk)
    if cursor is not None:
        query = query.where(arrivals.c.pk > decode_cursor(cursor, 1)[0])
    rows = conn.execute(query.order_by(arrivals.c.pk).limit(limit + 1)).all()
    items = [
        {
            "type": EVENT_NAMES.get(r.type, str(r.type)),
            "timestamp": r.event_ts,
            "receivedAt": r.received_at,
            "lastReceivedAt": r.last_received_at,
            "duplicates": r.duplicates,
            "late": bool(r.late),
            "newMessages": r.new_messages,
            "messageCount": r.message_count,
            "digest": format(r.digest & 0xFFFF_FFFF_FFFF_FFFF, "016x"),
            "body": msgspec.Raw(unpack(r.body)) if r.body is not None else None,
        }
        for r in rows
    ]
    return _page(items, limit, [rows[limit - 1].pk] if len(rows) > limit else None)


# -- hangs, errors, unattributed ---------------------------------------------------------------


def _scoped(
    query: Any, table: Any, where: CallFilter
) -> Any:  # Any: Select/Table of hangs or errors
    if where.call_id is not None:
        query = query.where(calls.c.call_id == where.call_id)
    if where.assistant_id is not None:
        query = query.where(table.c.assistant_id == where.assistant_id)
    if where.since is not None:
        query = query.where(table.c.event_ts >= where.since)
    if where.until is not None:
        query = query.where(table.c.event_ts < where.until)
    return query


def list_hangs(conn: Connection, where: CallFilter, cursor: str | None, limit: int) -> Page:
    """Hang events, newest first."""
    query = _scoped(select(hangs, calls.c.call_id).join(calls), hangs, where)
    if cursor is not None:
        query = query.where(_after([hangs.c.event_ts, hangs.c.pk], decode_cursor(cursor, 2)))
    query = query.order_by(hangs.c.event_ts.desc(), hangs.c.pk.desc()).limit(limit + 1)
    rows = conn.execute(query).all()
    items = [
        {
            "callId": r.call_id,
            "assistantId": r.assistant_id,
            "timestamp": r.event_ts,
            "receivedAt": r.received_at,
            "pendingMessageId": r.pending_message_id,
            "waitedMs": r.waited_ms,
            "thresholdMs": r.threshold_ms,
            "stage": r.stage,
            "messageCount": r.message_count,
            "hang": _raw(r.hang),
            "recovered": {"messageId": r.recovered_message_id, "waitedMs": r.recovered_ms}
            if r.recovered_message_id is not None
            else None,
        }
        for r in rows
    ]
    key = [rows[limit - 1].event_ts, rows[limit - 1].pk] if len(rows) > limit else None
    return _page(items, limit, key)


def list_errors(conn: Connection, where: CallFilter, cursor: str | None, limit: int) -> Page:
    """Error events, newest first."""
    query = _scoped(select(errors, calls.c.call_id).join(calls), errors, where)
    if where.error_type is not None:
        query = query.where(errors.c.error_type == where.error_type)
    if where.code is not None:
        query = query.where(errors.c.code == where.code)
    if where.provider is not None:
        query = query.where(errors.c.provider == where.provider)
    if cursor is not None:
        query = query.where(_after([errors.c.event_ts, errors.c.pk], decode_cursor(cursor, 2)))
    query = query.order_by(errors.c.event_ts.desc(), errors.c.pk.desc()).limit(limit + 1)
    rows = conn.execute(query).all()
    items = [
        {
            "callId": r.call_id,
            "assistantId": r.assistant_id,
            "timestamp": r.event_ts,
            "receivedAt": r.received_at,
            "type": r.error_type,
            "code": r.code,
            "provider": r.provider,
            "retryable": r.retryable,
            "message": r.message,
            "error": _raw(r.error),
        }
        for r in rows
    ]
    key = [rows[limit - 1].event_ts, rows[limit - 1].pk] if len(rows) > limit else None
    return _page(items, limit, key)


def list_unattributed(conn: Connection, cursor: str | None, limit: int) -> Page:
    """Events that carried no ``call``, newest arrival first, kept whole."""
    query = select(unattributed)
    if cursor is not None:
        query = query.where(unattributed.c.pk < decode_cursor(cursor, 1)[0])
    rows = conn.execute(query.order_by(unattributed.c.pk.desc()).limit(limit + 1)).all()
    items = [
        {
            "type": r.type,
            "timestamp": r.event_ts,
            "receivedAt": r.received_at,
            "duplicates": r.duplicates,
            "body": _raw(r.body),
        }
        for r in rows
    ]
    return _page(items, limit, [rows[limit - 1].pk] if len(rows) > limit else None)
