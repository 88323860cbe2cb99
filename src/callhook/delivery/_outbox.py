"""The durable outbox: every SQL statement of delivery, batched, synchronous.

``Outbox`` methods run in the dispatcher's database thread. Each one is a single transaction
over many rows (insert a batch, claim a batch, record a batch of attempts), so the database
sees a few statements per batch, never one round trip per event.

Per-call order: a row can be claimed only when it is the *head* of its (call, URL): no other
``pending`` row of that call and URL comes before it, and no other one is in flight (leased),
which can happen after a replay. A row stays ``pending`` while it is in flight and while it
waits for a retry, so the next event of the call waits too. ``is_head`` is computed from that
definition (``repair_heads``) for the calls of each batch inserted, recorded or replayed, in
the same transaction. On PostgreSQL those transactions first take an advisory lock per call,
so that two processes cannot both decide from a view that the other is changing (an event
inserted as "not head" while the other process finishes its predecessor); a periodic repair
covers the rest (a lease that expired after a crash).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import msgspec
import sqlalchemy as sa

from callhook.delivery._config import ServerConfig
from callhook.delivery._tables import ATTEMPTS, ENDPOINTS, OUTBOX
from callhook.store import write_transaction

__all__ = ["AttemptResult", "ClaimedRow", "NewRow", "Outbox", "repair_heads"]

logger = logging.getLogger("callhook.delivery")

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"

_CONFIG_ENCODER = msgspec.json.Encoder()
_CONFIG_DECODER = msgspec.json.Decoder(ServerConfig)
_SEQUENCE_CACHE = 100_000


@dataclass(frozen=True, slots=True)
class NewRow:
    """An event accepted for one endpoint, before it gets its per-call sequence number."""

    webhook_id: str
    call_id: str
    event_type: str
    url: str
    body: bytes
    config: ServerConfig


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    """A row leased to this worker for one attempt."""

    id: int
    webhook_id: str
    call_id: str
    event_type: str
    url: str
    sequence: int
    body: bytes
    config: ServerConfig
    attempts: int
    window_attempts: int
    window_start: float


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt did and what becomes of its row."""

    row: ClaimedRow
    started_at: float
    latency_ms: float
    status_code: int | None
    outcome: str
    error: str | None
    #: pending (retry at ``next_attempt_at``), delivered or dead
    new_status: str
    next_attempt_at: float
    disable_endpoint: bool = False


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
    keys = sorted({_lock_key(call) for call in call_ids})
    if keys:
        conn.exec_driver_sql(
            "SELECT count(pg_advisory_xact_lock(k)) FROM "
            "(SELECT k FROM unnest(%(keys)s::bigint[]) AS k ORDER BY k) AS ordered",
            {"keys": keys},
        )


def _lock_key(call_id: str) -> int:
    digest = hashlib.blake2b(call_id.encode(), digest_size=8, person=b"callhook-call").digest()
    return int.from_bytes(digest, "big", signed=True)


_CLAIM_COLUMNS = (
    OUTBOX.c.id,
    OUTBOX.c.webhook_id,
    OUTBOX.c.call_id,
    OUTBOX.c.event_type,
    OUTBOX.c.url,
    OUTBOX.c.sequence,
    OUTBOX.c.body,
    OUTBOX.c.config,
    OUTBOX.c.attempts,
    OUTBOX.c.window_attempts,
    OUTBOX.c.window_start,
)

_RECORD = (
    OUTBOX.update()
    .where(OUTBOX.c.id == sa.bindparam("b_id"))
    .values(
        status=sa.bindparam("b_status"),
        attempts=sa.bindparam("b_attempts"),
        window_attempts=sa.bindparam("b_window_attempts"),
        next_attempt_at=sa.bindparam("b_next"),
        lease_until=None,
        lease_owner=None,
        finished_at=sa.bindparam("b_finished"),
        last_status_code=sa.bindparam("b_code"),
        last_error=sa.bindparam("b_error"),
    )
)


class Outbox:
    """SQL access to the outbox tables of one engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._skip_locked = engine.dialect.name == "postgresql"
        self._sequences: OrderedDict[str, int] = OrderedDict()
        self._configs: dict[bytes, ServerConfig] = {}

    # -- accepting ---------------------------------------------------------------------

    def insert(self, rows: list[NewRow], now: float) -> None:
        """Store a batch of accepted events, numbering them per call, in one commit.

        Each event is the head of its (call, URL) when no other row of that key is pending.
        The numbers are remembered only once the commit succeeded, so that a failed batch
        leaves no gap in a call's sequence."""
        calls = {r.call_id for r in rows}
        with write_transaction(self.engine) as conn:
            lock_calls(conn, calls)
            sequences = self._load_sequences(conn, calls)
            busy = self._pending_keys(conn, {(r.call_id, r.url) for r in rows})
            values = []
            encoded: dict[int, bytes] = {}
            for row in rows:
                key = (row.call_id, row.url)
                sequence = sequences[row.call_id] = sequences[row.call_id] + 1
                config = encoded.get(id(row.config))
                if config is None:
                    config = encoded[id(row.config)] = _CONFIG_ENCODER.encode(row.config)
                is_head = key not in busy
                busy.add(key)
                values.append(
                    {
                        "webhook_id": row.webhook_id,
                        "call_id": row.call_id,
                        "event_type": row.event_type,
                        "url": row.url,
                        "sequence": sequence,
                        "body": row.body,
                        "config": config,
                        "status": PENDING,
                        "is_head": is_head,
                        "attempts": 0,
                        "window_attempts": 0,
                        "window_start": now,
                        "created_at": now,
                        "next_attempt_at": now,
                    }
                )
            conn.execute(OUTBOX.insert(), values)
        self._sequences.update(sequences)
        for call in sequences:
            self._sequences.move_to_end(call)
        while len(self._sequences) > _SEQUENCE_CACHE:
            self._sequences.popitem(last=False)

    def _pending_keys(
        self, conn: sa.Connection, keys: set[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """The keys among ``keys`` that already have a pending row."""
        calls = sorted({call for call, _ in keys})
        found: set[tuple[str, str]] = set()
        for start in range(0, len(calls), 500):
            query = (
                sa.select(OUTBOX.c.call_id, OUTBOX.c.url)
                .where(OUTBOX.c.call_id.in_(calls[start : start + 500]), OUTBOX.c.status == PENDING)
                .distinct()
            )
            found.update((call, url) for call, url in conn.execute(query))
        return found & keys

    def _load_sequences(self, conn: sa.Connection, calls: set[str]) -> dict[str, int]:
        """The highest sequence number of each call so far (cached; read when unknown)."""
        sequences = {call: self._sequences[call] for call in calls if call in self._sequences}
        missing = sorted(calls - set(sequences))
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            sequences.update(dict.fromkeys(chunk, 0))
            query = (
                sa.select(OUTBOX.c.call_id, sa.func.max(OUTBOX.c.sequence))
                .where(OUTBOX.c.call_id.in_(chunk))
                .group_by(OUTBOX.c.call_id)
            )
            for call_id, highest in conn.execute(query):
                sequences[call_id] = int(highest or 0)
        return sequences

    # -- claiming ----------------------------------------------------------------------

    def claim(
        self,
        now: float,
        owner: str,
        *,
        limit: int,
        free: Mapping[str, int],
        default_free: int,
        lease_margin: float,
    ) -> list[ClaimedRow]:
        """Lease up to ``limit`` due head rows, at most ``free[url]`` per endpoint.

        Two statements: pick candidates by index (ids, URLs and configurations only), then
        lease the chosen ones and read them back with ``RETURNING``.
        """
        with write_transaction(self.engine) as conn:
            self._kill_disabled(conn, now)
            query = (
                sa.select(OUTBOX.c.id, OUTBOX.c.url, OUTBOX.c.config)
                .where(
                    OUTBOX.c.status == PENDING,
                    OUTBOX.c.is_head == sa.true(),
                    OUTBOX.c.next_attempt_at <= now,
                    sa.or_(OUTBOX.c.lease_until.is_(None), OUTBOX.c.lease_until <= now),
                )
                .order_by(OUTBOX.c.next_attempt_at)
                .limit(limit * 2)
            )
            full = sorted(url for url, left in free.items() if left <= 0)
            if full:
                query = query.where(OUTBOX.c.url.not_in(full))
            if self._skip_locked:
                query = query.with_for_update(skip_locked=True)
            room = dict(free)
            chosen: list[int] = []
            longest = 0.0
            for row_id, url, raw in conn.execute(query):
                left = room.get(url, default_free)
                if left <= 0:
                    continue
                room[url] = left - 1
                chosen.append(row_id)
                longest = max(longest, self._config(raw).timeout_seconds)
                if len(chosen) >= limit:
                    break
            if not chosen:
                return []
            leased = conn.execute(
                OUTBOX.update()
                .where(
                    OUTBOX.c.id.in_(chosen),
                    OUTBOX.c.status == PENDING,
                    sa.or_(OUTBOX.c.lease_until.is_(None), OUTBOX.c.lease_until <= now),
                )
                .values(lease_until=now + longest + lease_margin, lease_owner=owner)
                .returning(*_CLAIM_COLUMNS)
            )
            by_id = {
                r.id: ClaimedRow(
                    id=r.id,
                    webhook_id=r.webhook_id,
                    call_id=r.call_id,
                    event_type=r.event_type,
                    url=r.url,
                    sequence=r.sequence,
                    body=r.body,
                    config=self._config(r.config),
                    attempts=r.attempts,
                    window_attempts=r.window_attempts,
                    window_start=r.window_start,
                )
                for r in leased
            }
        return [by_id[row_id] for row_id in chosen if row_id in by_id]

    def _config(self, raw: bytes) -> ServerConfig:
        config = self._configs.get(raw)
        if config is None:
            if len(self._configs) > 1000:
                self._configs.clear()
            config = self._configs[raw] = _CONFIG_DECODER.decode(raw)
        return config

    def _kill_disabled(self, conn: sa.Connection, now: float) -> None:
        disabled = [url for (url,) in conn.execute(sa.select(ENDPOINTS.c.url))]
        if not disabled:
            return
        conn.execute(
            OUTBOX.update()
            .where(
                OUTBOX.c.status == PENDING,
                OUTBOX.c.url.in_(disabled),
                sa.or_(OUTBOX.c.lease_until.is_(None), OUTBOX.c.lease_until <= now),
            )
            .values(
                status=DEAD,
                is_head=False,
                finished_at=now,
                last_error="endpoint disabled after 410 Gone; replay to re-enable it",
            )
        )

    def next_due(self, now: float) -> float | None:
        """When the earliest head row becomes claimable (``None``: nothing pending)."""
        ready = sa.case(
            (OUTBOX.c.lease_until > OUTBOX.c.next_attempt_at, OUTBOX.c.lease_until),
            else_=OUTBOX.c.next_attempt_at,
        )
        query = sa.select(sa.func.min(ready)).where(
            OUTBOX.c.status == PENDING, OUTBOX.c.is_head == sa.true()
        )
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return None if value is None else float(value)

    def release(self, ids: Iterable[int], owner: str) -> None:
        """Give back leases of rows not attempted (on close), so they go out at once."""
        id_list = list(ids)
        if not id_list:
            return
        with write_transaction(self.engine) as conn:
            conn.execute(
                OUTBOX.update()
                .where(OUTBOX.c.id.in_(id_list), OUTBOX.c.lease_owner == owner)
                .values(lease_until=None, lease_owner=None)
            )

    # -- recording ---------------------------------------------------------------------

    def record(self, results: list[AttemptResult], now: float) -> None:
        """Store a batch of attempts and the new state of their rows, in one commit; the head
        of each (call, URL) concerned is recomputed (the next row when one finished; an
        earlier row replayed meanwhile when a retry is due)."""
        calls = {r.row.call_id for r in results}
        with write_transaction(self.engine) as conn:
            lock_calls(conn, calls)
            conn.execute(
                ATTEMPTS.insert(),
                [
                    {
                        "outbox_id": r.row.id,
                        "attempt": r.row.attempts + 1,
                        "url": r.row.url,
                        "started_at": r.started_at,
                        "latency_ms": r.latency_ms,
                        "status_code": r.status_code,
                        "outcome": r.outcome,
                        "error": r.error,
                    }
                    for r in results
                ],
            )
            conn.execute(
                _RECORD,
                [
                    {
                        "b_id": r.row.id,
                        "b_status": r.new_status,
                        "b_attempts": r.row.attempts + 1,
                        "b_window_attempts": r.row.window_attempts + 1,
                        "b_next": r.next_attempt_at,
                        "b_finished": None if r.new_status == PENDING else now,
                        "b_code": r.status_code,
                        "b_error": r.error,
                    }
                    for r in results
                ],
            )
            finished = [r.row.id for r in results if r.new_status != PENDING]
            if finished:
                conn.execute(OUTBOX.update().where(OUTBOX.c.id.in_(finished)).values(is_head=False))
            _update_heads(conn, sorted(calls), now)
            for url in {r.row.url for r in results if r.disable_endpoint}:
                exists = conn.execute(sa.select(ENDPOINTS.c.url).where(ENDPOINTS.c.url == url))
                if exists.first() is None:
                    conn.execute(
                        ENDPOINTS.insert().values(url=url, disabled_at=now, reason="410 Gone")
                    )

    def has_pending(self, ids: Iterable[int] | None = None) -> bool:
        """Whether any row is still pending (among ``ids`` when given)."""
        query = sa.select(OUTBOX.c.id).where(OUTBOX.c.status == PENDING).limit(1)
        if ids is not None:
            query = query.where(OUTBOX.c.id.in_(list(ids)))
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def repair_heads(self, now: float | None = None) -> int:
        """Recompute ``is_head`` where it is wrong (a head lost in a crash, or in a race with
        a process that does not lock); returns how many rows changed."""
        with write_transaction(self.engine) as conn:
            return repair_heads(conn, time.time() if now is None else now)


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
