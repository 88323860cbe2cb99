"""Accepting events into the outbox inside a transaction someone else opened and commits.

``Enqueuer.stage`` numbers a batch of ``NewRow`` per call and inserts it with the cursor it is
given: the dispatcher's own transaction (``Outbox.insert``), or the receiver's ingest
transaction (the relay), so that an event is stored and queued in one commit. The caller
then says whether that transaction committed (``committed``) or not (``discarded``): the
per-call sequence numbers are remembered only once committed, so that a failed batch leaves
no gap in a call's sequence.

On PostgreSQL ``stage`` first takes an advisory lock per call (in one order), as every
transaction that changes the heads of a call does (``_heads``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import cast

import msgspec

from callhook.delivery._driver import Cursor, Placeholders
from callhook.delivery._heads import lock_key
from callhook.delivery._rows import NewRow

__all__ = ["Enqueuer"]

_CONFIG_ENCODER = msgspec.json.Encoder()
_SEQUENCE_CACHE = 100_000
_CHUNK = 500
_OUTBOX = "callhook_delivery_outbox"
_ORDER_INDEX = "ix_callhook_delivery_outbox_order"

_INSERT = (
    f"INSERT INTO {_OUTBOX} (webhook_id, call_id, event_type, url, sequence, body, config, "
    "status, is_head, attempts, window_attempts, window_start, created_at, next_attempt_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, 0, 0, ?, ?, ?)"
)
_LOCK = (
    "SELECT count(pg_advisory_xact_lock(k)) FROM "
    "(SELECT k FROM unnest(?::bigint[]) AS k ORDER BY k) AS ordered"
)


class Enqueuer:
    """Inserts accepted rows into the outbox; use it from one thread at a time.

    ``cache``: remember each call's last sequence number between transactions. Right when
    this object is the only one inserting rows of its calls (an emitter's dispatcher, or the
    one receiver process on SQLite); with several writing processes (receivers on
    PostgreSQL), each transaction reads the number under the call's advisory lock instead.
    """

    def __init__(self, placeholders: Placeholders, *, cache: bool = True) -> None:
        self._db = placeholders
        self._cache = cache
        self._sequences: OrderedDict[str, int] = OrderedDict()
        self._staged: dict[str, int] = {}
        # Without statistics SQLite would read this through the index on ``status``: every
        # pending row of the outbox, a backlog long, per batch. Name the per-call index.
        self._by_call = "" if placeholders.postgres else f" INDEXED BY {_ORDER_INDEX}"

    def lock_calls(self, cursor: Cursor, calls: list[str]) -> None:
        """On PostgreSQL, the advisory lock of each call, in one order (no deadlock)."""
        if self._db.postgres:
            keys = sorted({lock_key(call) for call in calls})
            if keys:
                cursor.execute(self._db.sql(_LOCK), [keys])

    def select_in(
        self, cursor: Cursor, head: str, column: str, values: list[str], tail: str = ""
    ) -> list[tuple[object, ...]]:
        """``head`` + ``column`` is one of ``values`` + ``tail``, in chunks."""
        found: list[tuple[object, ...]] = []
        for start in range(0, len(values), _CHUNK):
            where, params = self._db.in_list(column, values[start : start + _CHUNK])
            cursor.execute(self._db.sql(f"{head} {where} {tail}"), params)
            found.extend(cursor.fetchall())
        return found

    def stage(self, cursor: Cursor, rows: list[NewRow], now: float) -> None:
        """Insert ``rows`` (in order) in the transaction of ``cursor``, numbered per call.

        A row is the head of its (call, URL) when that key has no pending row yet.
        """
        if not rows:
            return
        calls = sorted({r.call_id for r in rows})
        self.lock_calls(cursor, calls)
        sequences = self._load_sequences(cursor, calls)
        busy = {
            (str(call), str(url))
            for call, url in self.select_in(
                cursor,
                f"SELECT DISTINCT call_id, url FROM {_OUTBOX}{self._by_call} "
                "WHERE status = 'pending' AND",
                "call_id",
                calls,
            )
        }
        values = []
        encoded: dict[int, bytes] = {}
        for row in rows:
            key = (row.call_id, row.url)
            sequence = sequences[row.call_id] = sequences[row.call_id] + 1
            config = encoded.get(id(row.config))
            if config is None:
                config = encoded[id(row.config)] = _CONFIG_ENCODER.encode(row.config)
            values.append(
                (
                    row.webhook_id,
                    row.call_id,
                    row.event_type,
                    row.url,
                    sequence,
                    row.body,
                    config,
                    key not in busy,
                    now,
                    now,
                    now,
                )
            )
            busy.add(key)
        cursor.executemany(self._db.sql(_INSERT), values)
        self._staged.update(sequences)

    def committed(self) -> None:
        """The transaction of the staged rows committed: remember their sequence numbers."""
        staged, self._staged = self._staged, {}
        if not self._cache:
            return
        self._sequences.update(staged)
        for call in staged:
            self._sequences.move_to_end(call)
        while len(self._sequences) > _SEQUENCE_CACHE:
            self._sequences.popitem(last=False)

    def discarded(self) -> None:
        """The transaction of the staged rows rolled back: forget them."""
        self._staged = {}

    def forget(self) -> None:
        """Rows were removed by someone else (a purge, an erasure): read numbers again."""
        self._sequences.clear()

    def _load_sequences(self, cursor: Cursor, calls: list[str]) -> dict[str, int]:
        """The highest sequence number of each call so far (cached; read when unknown)."""
        sequences = {}
        for call in calls:
            if call in self._staged:
                sequences[call] = self._staged[call]
            elif self._cache and call in self._sequences:
                sequences[call] = self._sequences[call]
        missing = [call for call in calls if call not in sequences]
        if missing:
            sequences.update(dict.fromkeys(missing, 0))
            found = self.select_in(
                cursor,
                f"SELECT call_id, MAX(sequence) FROM {_OUTBOX} WHERE",
                "call_id",
                missing,
                "GROUP BY call_id",
            )
            for call_id, highest in found:
                sequences[str(call_id)] = int(cast(int, highest) or 0)
        return sequences
