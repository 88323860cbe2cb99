"""The durable outbox: every hot statement of delivery, batched, synchronous.

``Outbox`` methods run in the dispatcher's database thread, on one driver connection
(``_driver``). Each one is a single transaction over many rows (insert a batch, claim a batch,
record a batch of attempts with their history), a few statements per batch, never one round
trip per event.

Per-call order: only the *head* of a (call, URL) is claimable (``_heads``). A row stays
``pending`` while it is in flight and while it waits for a retry, so the next event of the
call waits too. An event inserted into a key with no pending row is its head; a finished row
passes the head to the first pending row of its key, unless another one is in flight; a
retried row gives it up to an earlier row replayed meanwhile. On PostgreSQL, inserts and
records first take an advisory lock per call, so that two processes never decide from a view
that the other is changing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping

import msgspec
import sqlalchemy as sa

from callhook.delivery._config import ServerConfig
from callhook.delivery._driver import Connection, Cursor
from callhook.delivery._enqueue import Enqueuer
from callhook.delivery._heads import repair_heads
from callhook.delivery._rows import PENDING, AttemptResult, ClaimedRow, NewRow
from callhook.store import write_transaction

__all__ = ["Outbox"]

logger = logging.getLogger("callhook.delivery")

_CONFIG_DECODER = msgspec.json.Decoder(ServerConfig)

_OUTBOX = "callhook_delivery_outbox"

_CANDIDATES = (
    f"SELECT id, url, config FROM {_OUTBOX} WHERE is_head = TRUE AND status = 'pending' "
    "AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"
)
_LEASED = (
    "id, webhook_id, call_id, event_type, url, sequence, body, config, attempts, "
    "window_attempts, window_start"
)
_ATTEMPT = (
    "INSERT INTO callhook_delivery_attempts (outbox_id, attempt, url, started_at, latency_ms, "
    "status_code, outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
#: The new state of an attempted row; ``is_head`` is kept while it is pending.
_RECORD = (
    f"UPDATE {_OUTBOX} SET status = ?, attempts = ?, window_attempts = ?, next_attempt_at = ?, "
    "lease_until = NULL, lease_owner = NULL, finished_at = ?, last_status_code = ?, "
    "last_error = ?, is_head = (is_head AND ?) WHERE id = ?"
)
#: A retried row that an earlier, replayed row of its key now precedes is no longer head.
_DEMOTE = (
    f"UPDATE {_OUTBOX} SET is_head = FALSE WHERE id = ? AND is_head = TRUE AND EXISTS ("
    f"SELECT 1 FROM {_OUTBOX} AS e WHERE e.call_id = {_OUTBOX}.call_id "
    f"AND e.url = {_OUTBOX}.url AND e.status = 'pending' AND (e.sequence < {_OUTBOX}.sequence "
    f"OR (e.sequence = {_OUTBOX}.sequence AND e.id < {_OUTBOX}.id)))"
)
#: The first pending row of a key becomes its head, unless another row of the key is in flight
#: (after a row finished, or after a retried row gave the head up to an earlier one).
_PROMOTE = (
    f"UPDATE {_OUTBOX} SET is_head = TRUE WHERE id = (SELECT f.id FROM {_OUTBOX} AS f "
    "WHERE f.call_id = ? AND f.url = ? AND f.status = 'pending' ORDER BY f.sequence, f.id "
    "LIMIT 1) AND is_head = FALSE AND NOT EXISTS (SELECT 1 FROM "
    f"{_OUTBOX} AS b WHERE b.call_id = ? AND b.url = ? AND b.status = 'pending' "
    f"AND b.lease_until > ? AND b.id <> {_OUTBOX}.id)"
)
_DISABLE = (
    "INSERT INTO callhook_delivery_endpoints (url, disabled_at, reason) "
    "VALUES (?, ?, '410 Gone') ON CONFLICT (url) DO NOTHING"
)
_DISABLED_ERROR = "endpoint disabled after 410 Gone; replay to re-enable it"


class Outbox:
    """The outbox of one engine (SQLite or PostgreSQL), on one driver connection."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._db = Connection(engine)
        self._skip_locked = engine.dialect.name == "postgresql"
        self._enqueuer = Enqueuer(self._db)
        self._configs: dict[bytes, ServerConfig] = {}

    def close(self) -> None:
        """Give the connection back to the engine's pool."""
        self._db.close()

    def _lock_calls(self, cursor: Cursor, calls: Iterable[str]) -> None:
        self._enqueuer.lock_calls(cursor, list(calls))

    # -- accepting ---------------------------------------------------------------------

    def insert(self, rows: list[NewRow], now: float) -> None:
        """Store a batch of accepted events, numbering them per call, in one commit."""
        try:
            with self._db.transaction() as cursor:
                self._enqueuer.stage(cursor, rows, now)
        except BaseException:
            self._enqueuer.discarded()
            raise
        self._enqueuer.committed()

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
        with self._db.transaction() as cursor:
            self._kill_disabled(cursor, now)
            full = sorted(url for url, left in free.items() if left <= 0)
            sql, params = _CANDIDATES, [now, now]
            if full:
                where, more = self._db.in_list("url", full)
                sql, params = f"{sql} AND NOT ({where})", params + more
            sql += " ORDER BY next_attempt_at LIMIT ?"
            if self._skip_locked:
                sql += " FOR UPDATE SKIP LOCKED"
            cursor.execute(self._db.sql(sql), [*params, limit * 2])
            room = dict(free)
            chosen: list[int] = []
            longest = 0.0
            for row_id, url, raw in cursor.fetchall():
                left = room.get(url, default_free)
                if left <= 0:
                    continue
                room[url] = left - 1
                chosen.append(row_id)
                longest = max(longest, self._config(bytes(raw)).timeout_seconds)
                if len(chosen) >= limit:
                    break
            if not chosen:
                return []
            where, ids = self._db.in_list("id", chosen)
            cursor.execute(
                self._db.sql(
                    f"UPDATE {_OUTBOX} SET lease_until = ?, lease_owner = ? WHERE {where} "
                    "AND status = 'pending' AND (lease_until IS NULL OR lease_until <= ?) "
                    f"RETURNING {_LEASED}"
                ),
                [now + longest + lease_margin, owner, *ids, now],
            )
            by_id = {
                r[0]: ClaimedRow(
                    id=r[0],
                    webhook_id=r[1],
                    call_id=r[2],
                    event_type=r[3],
                    url=r[4],
                    sequence=r[5],
                    body=bytes(r[6]),
                    config=self._config(bytes(r[7])),
                    attempts=r[8],
                    window_attempts=r[9],
                    window_start=r[10],
                )
                for r in cursor.fetchall()
            }
        return [by_id[row_id] for row_id in chosen if row_id in by_id]

    def _config(self, raw: bytes) -> ServerConfig:
        config = self._configs.get(raw)
        if config is None:
            if len(self._configs) > 1000:
                self._configs.clear()
            config = self._configs[raw] = _CONFIG_DECODER.decode(raw)
        return config

    def _kill_disabled(self, cursor: Cursor, now: float) -> None:
        cursor.execute("SELECT url FROM callhook_delivery_endpoints")
        disabled = [str(url) for (url,) in cursor.fetchall()]
        if not disabled:
            return
        where, urls = self._db.in_list("url", disabled)
        cursor.execute(
            self._db.sql(
                f"UPDATE {_OUTBOX} SET status = 'dead', is_head = FALSE, finished_at = ?, "
                f"last_error = ? WHERE status = 'pending' AND {where} "
                "AND (lease_until IS NULL OR lease_until <= ?)"
            ),
            [now, _DISABLED_ERROR, *urls, now],
        )

    def next_due(self, now: float) -> float | None:
        """When the earliest head row becomes claimable (``None``: nothing pending)."""
        with self._db.transaction(write=False) as cursor:
            cursor.execute(
                f"SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until "
                f"ELSE next_attempt_at END) FROM {_OUTBOX} "
                "WHERE status = 'pending' AND is_head = TRUE"
            )
            row = cursor.fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def release(self, ids: Iterable[int], owner: str) -> None:
        """Give back leases of rows not attempted (on close), so they go out at once."""
        id_list = list(ids)
        if not id_list:
            return
        where, params = self._db.in_list("id", id_list)
        with self._db.transaction() as cursor:
            cursor.execute(
                self._db.sql(
                    f"UPDATE {_OUTBOX} SET lease_until = NULL, lease_owner = NULL "
                    f"WHERE {where} AND lease_owner = ?"
                ),
                [*params, owner],
            )

    # -- recording ---------------------------------------------------------------------

    def record(self, results: list[AttemptResult], now: float) -> None:
        """Store a batch of attempts (their history) and the new state of their rows, and
        pass on the heads concerned, in one commit."""
        with self._db.transaction() as cursor:
            self._lock_calls(cursor, {r.row.call_id for r in results})
            cursor.executemany(
                self._db.sql(_ATTEMPT),
                [
                    (
                        r.row.id,
                        r.row.attempts + 1,
                        r.row.url,
                        r.started_at,
                        r.latency_ms,
                        r.status_code,
                        r.outcome,
                        r.error,
                    )
                    for r in results
                ],
            )
            cursor.executemany(
                self._db.sql(_RECORD),
                [
                    (
                        r.new_status,
                        r.row.attempts + 1,
                        r.row.window_attempts + 1,
                        r.next_attempt_at,
                        None if r.new_status == PENDING else now,
                        r.status_code,
                        r.error,
                        r.new_status == PENDING,
                        r.row.id,
                    )
                    for r in results
                ],
            )
            retried = [(r.row.id,) for r in results if r.new_status == PENDING]
            if retried:
                cursor.executemany(self._db.sql(_DEMOTE), retried)
            keys = sorted({(r.row.call_id, r.row.url) for r in results})
            cursor.executemany(
                self._db.sql(_PROMOTE), [(call, url, call, url, now) for call, url in keys]
            )
            disabled = sorted({r.row.url for r in results if r.disable_endpoint})
            if disabled:
                cursor.executemany(self._db.sql(_DISABLE), [(url, now) for url in disabled])

    def has_pending(self, ids: Iterable[int] | None = None) -> bool:
        """Whether any row is still pending (among ``ids`` when given)."""
        sql, params = f"SELECT 1 FROM {_OUTBOX} WHERE status = 'pending'", list[object]()
        if ids is not None:
            where, params = self._db.in_list("id", list(ids))
            sql += f" AND {where}"
        with self._db.transaction(write=False) as cursor:
            cursor.execute(self._db.sql(sql + " LIMIT 1"), params)
            return cursor.fetchone() is not None

    def repair_heads(self, now: float | None = None) -> int:
        """Recompute ``is_head`` where it is wrong (a head lost after a crash during a
        replay); returns how many rows changed. Rare: through SQLAlchemy."""
        with write_transaction(self.engine) as conn:
            return repair_heads(conn, time.time() if now is None else now)
