"""Per-call order: which pending row of a (call, URL) is its *head*, the only one claimable.

A pending row is the head of its (call, URL) when no earlier row of that key is pending and no
other one is in flight (leased), which can happen after a replay. ``is_head`` caches that
definition so that claims read only ready rows (an index) however long the backlog. The hot
path keeps it up to date row by row (``Outbox``); ``repair_heads`` recomputes it from the
definition, for replays and after a crash. On PostgreSQL every transaction that changes
heads first takes an advisory lock per call (``lock_calls``), so that two processes never
decide from a view the other is changing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import sqlalchemy as sa

from callhook.delivery._rows import PENDING
from callhook.delivery._tables import OUTBOX

__all__ = ["head_condition", "lock_calls", "lock_key", "repair_heads"]


def head_condition(now: float) -> sa.ColumnElement[bool]:
    """A pending row of ``OUTBOX`` is the head of its (call, URL): no earlier pending row,
    and no other pending row in flight (leased until after ``now``)."""
    earlier = OUTBOX.alias("earlier")
    busy = OUTBOX.alias("busy")
    earlier_pending = sa.exists().where(
        earlier.c.call_id == OUTBOX.c.call_id,
        earlier.c.url == OUTBOX.c.url,
        earlier.c.status == PENDING,
        sa.or_(
            earlier.c.sequence < OUTBOX.c.sequence,
            sa.and_(earlier.c.sequence == OUTBOX.c.sequence, earlier.c.id < OUTBOX.c.id),
        ),
    )
    other_in_flight = sa.exists().where(
        busy.c.call_id == OUTBOX.c.call_id,
        busy.c.url == OUTBOX.c.url,
        busy.c.status == PENDING,
        busy.c.id != OUTBOX.c.id,
        busy.c.lease_until > now,
    )
    return sa.and_(~earlier_pending, ~other_in_flight)


def lock_calls(conn: sa.Connection, call_ids: Iterable[str]) -> None:
    """On PostgreSQL, take this transaction's advisory lock of each call (sorted, so that two
    transactions never wait for each other in a circle). SQLite's write transactions are
    serialised already (``BEGIN IMMEDIATE``)."""
    if conn.dialect.name != "postgresql":
        return
    keys = sorted({lock_key(call) for call in call_ids})
    if keys:
        conn.exec_driver_sql(
            "SELECT count(pg_advisory_xact_lock(k)) FROM "
            "(SELECT k FROM unnest(%(keys)s::bigint[]) AS k ORDER BY k) AS ordered",
            {"keys": keys},
        )


def lock_key(call_id: str) -> int:
    digest = hashlib.blake2b(call_id.encode(), digest_size=8, person=b"callhook-call").digest()
    return int.from_bytes(digest, "big", signed=True)


def repair_heads(conn: sa.Connection, now: float, call_ids: Iterable[str] | None = None) -> int:
    """``Outbox.repair_heads`` inside an open transaction (only of ``call_ids`` when given):
    finds the calls whose heads are wrong, locks them, and recomputes their heads."""
    if call_ids is None:
        should = head_condition(now)
        query = (
            sa.select(OUTBOX.c.call_id)
            .where(OUTBOX.c.status == PENDING, OUTBOX.c.is_head != should)
            .distinct()
        )
        call_ids = [call for (call,) in conn.execute(query)]
    calls = sorted(set(call_ids))
    lock_calls(conn, calls)
    return _update_heads(conn, calls, now)


def _update_heads(conn: sa.Connection, calls: list[str], now: float) -> int:
    """Set ``is_head`` of the pending rows of ``calls`` from its definition."""
    should = head_condition(now)
    changed = 0
    for start in range(0, len(calls), 500):
        query = (
            OUTBOX.update()
            .where(
                OUTBOX.c.status == PENDING,
                OUTBOX.c.call_id.in_(calls[start : start + 500]),
                OUTBOX.c.is_head != should,
            )
            .values(is_head=should)
        )
        changed += int(conn.execute(query).rowcount or 0)
    return changed
