"""Read queries over delivery's outbox tables for the query API and the dashboard.

Outbox times are unix seconds (float); what these return is epoch milliseconds, as the rest of
the API. A target is shown as ``safe_url`` of its URL (no credentials, query or fragment), and
``status`` has a fourth value, ``retrying``: a pending row that has been attempted already.
Nothing here returns a request body or the stored configuration (they may hold secrets).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import Connection, and_, or_, select

from callhook.delivery import DELIVERY_COLUMNS, METADATA, safe_url
from callhook.store import InvalidCursor, Page

__all__ = [
    "STATUSES",
    "DeliveryFilter",
    "call_deliveries",
    "get_delivery",
    "list_delivery_page",
    "target_matches",
]

Json = dict[str, Any]  # Any: JSON values

OUTBOX = METADATA.tables["callhook_delivery_outbox"]
ATTEMPTS = METADATA.tables["callhook_delivery_attempts"]
#: The states the API filters on and shows.
STATUSES = ("pending", "retrying", "delivered", "dead")


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    """``None`` means no filter; ``target`` is a target URL as the API shows it."""

    target: str | None = None
    status: str | None = None
    call_id: str | None = None


def ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def shown_status(status: str, attempts: int) -> str:
    return "retrying" if status == "pending" and attempts > 0 else status


def _item(row: Any) -> Json:  # Any: a result row
    return {
        "id": row.id,
        "webhookId": row.webhook_id,
        "callId": row.call_id,
        "eventType": row.event_type,
        "target": safe_url(row.url),
        "sequence": row.sequence,
        "status": shown_status(row.status, row.attempts),
        "attempts": row.attempts,
        "lastStatusCode": row.last_status_code,
        "lastError": row.last_error,
        "createdAt": ms(row.created_at),
        "nextAttemptAt": ms(row.next_attempt_at) if row.status == "pending" else None,
        "finishedAt": ms(row.finished_at),
    }


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def target_matches(target: str) -> Any:  # Any: a SQL condition
    """Rows whose URL shows as ``target``: that URL, or it with credentials, a query or a
    fragment (``safe_url`` drops them)."""
    parts = urlsplit(target)
    if not parts.scheme or not parts.netloc:
        return OUTBOX.c.url == target
    with_credentials = f"{_like(parts.scheme)}://%@{_like(target.split('://', 1)[1])}"
    patterns = [f"{_like(target)}{end}" for end in ("?%", "#%")]
    patterns += [f"{with_credentials}{end}" for end in ("", "?%", "#%")]
    return or_(OUTBOX.c.url == target, *(OUTBOX.c.url.like(p, escape="\\") for p in patterns))


def _status_condition(status: str) -> Any:  # Any: a SQL condition
    if status == "retrying":
        return and_(OUTBOX.c.status == "pending", OUTBOX.c.attempts > 0)
    if status == "pending":
        return and_(OUTBOX.c.status == "pending", OUTBOX.c.attempts == 0)
    return OUTBOX.c.status == status


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(["d", last_id])).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, value = msgspec.json.decode(raw, type=tuple[str, int])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidCursor("The cursor is not one this API returned; start without it") from None
    if kind != "d" or not 0 < value < 2**63:
        raise InvalidCursor("The cursor belongs to another list; start without it")
    return value


def list_delivery_page(
    conn: Connection, where: DeliveryFilter, cursor: str | None, limit: int
) -> Page:
    """Outbox rows, newest first, ``limit`` per page (keyset on the row id)."""
    query = select(*DELIVERY_COLUMNS).order_by(OUTBOX.c.id.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(OUTBOX.c.id < _decode_cursor(cursor))
    if where.target is not None:
        query = query.where(target_matches(where.target))
    if where.status is not None:
        query = query.where(_status_condition(where.status))
    if where.call_id is not None:
        query = query.where(OUTBOX.c.call_id == where.call_id)
    rows = conn.execute(query).all()
    items = [_item(row) for row in rows[:limit]]
    more = len(rows) > limit
    return Page(items, _encode_cursor(rows[limit - 1].id) if more else None)


def get_delivery(conn: Connection, delivery_id: int) -> Json | None:
    """One row with its attempts in order; ``None`` when there is no such row."""
    row = conn.execute(select(*DELIVERY_COLUMNS).where(OUTBOX.c.id == delivery_id)).first()
    if row is None:
        return None
    attempts = conn.execute(
        select(
            ATTEMPTS.c.attempt,
            ATTEMPTS.c.url,
            ATTEMPTS.c.started_at,
            ATTEMPTS.c.latency_ms,
            ATTEMPTS.c.status_code,
            ATTEMPTS.c.outcome,
            ATTEMPTS.c.error,
        )
        .where(ATTEMPTS.c.outbox_id == delivery_id)
        .order_by(ATTEMPTS.c.attempt, ATTEMPTS.c.id)
    ).all()
    return {
        **_item(row),
        "history": [
            {
                "attempt": a.attempt,
                "target": safe_url(a.url),
                "startedAt": ms(a.started_at),
                "latencyMs": a.latency_ms,
                "statusCode": a.status_code,
                "outcome": a.outcome,
                "error": a.error,
            }
            for a in attempts
        ],
    }


def call_deliveries(conn: Connection, call_id: str) -> list[Json]:
    """A call's deliveries grouped per target: counts by status, and every row in sequence
    order (a call has a few dozen events per target at most)."""
    rows = conn.execute(
        select(*DELIVERY_COLUMNS)
        .where(OUTBOX.c.call_id == call_id)
        .order_by(OUTBOX.c.url, OUTBOX.c.sequence, OUTBOX.c.id)
    ).all()
    targets: dict[str, Json] = {}
    for row in rows:
        item = _item(row)
        target = targets.setdefault(
            item["target"], {"target": item["target"], **dict.fromkeys(STATUSES, 0), "items": []}
        )
        target[item["status"]] += 1
        target["items"].append(item)
    return list(targets.values())
