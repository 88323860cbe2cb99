"""The write side: apply a batch of events in one transaction (the unit of group commit).

``Writer.apply`` is synchronous and owns one connection; the async ``Store`` calls it from
one worker thread. On SQLite the ``Store`` splits a batch instead: ``begin`` (which may wait
for the write lock) and ``commit`` (the fsync) run in that thread, ``stage`` (the Python work
in between, under the write lock, so it never waits for another process) on the event loop:
the two threads then do not hand the GIL back and forth on every statement.

Per batch the writer locks the calls concerned (``FOR UPDATE`` on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite), validates and decodes only the messages each call has not seen,
merges call state (``_merge``), and writes one statement per table.

Each call's state, stored messageIds and event digests are cached between batches. The cache
is trusted only while the call row's ``version`` is the one the cache was built at: every
writer bumps it under the row lock, so a call written by another process is reloaded. A
failed batch drops the cache entries it touched.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, RootTransaction, bindparam, select
from sqlalchemy.exc import SQLAlchemyError

from callhook._exceptions import DecodeError, StorageError
from callhook.events import (
    EventType,
    HangMetrics,
    Message,
    MessageMetrics,
    decode_message,
    parse_message_id,
)
from callhook.store._blob import pack
from callhook.store._merge import CallState, merge, status_rank
from callhook.store._parse import (
    DEFAULT_MAX_DEPTH,
    Incoming,
    assistant_keys,
    check_depth,
    compact,
)
from callhook.store._rows import STATE_COLUMNS, state_from_row, state_values
from callhook.store._schema import (
    EVENT_CODES,
    arrivals,
    assistants,
    calls,
    messages,
    status_history,
)
from callhook.store._sql import Params, prepared_insert, prepared_update
from callhook.store._statements import Rare

__all__ = ["Outcome", "Staged", "Writer"]

logger = logging.getLogger("callhook.store")

_CACHE_CALLS = 10_000
_CACHE_ASSISTANTS = 10_000
_MESSAGE_COLUMNS = (
    "call_pk", "message_id", "position", "ts", "role", "body", "hang_reply_to", "hang_waited_ms",
)  # fmt: skip
_ARRIVAL_COLUMNS = (
    "call_pk", "digest", "type", "event_ts", "received_at", "last_received_at", "duplicates",
    "late", "new_messages", "message_count", "body", "assistant_digest",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the store did with one event: ``stored``, ``duplicate`` or ``unattributed``."""

    outcome: str
    call_id: str | None
    new_messages: int = 0
    late: bool = False


@dataclass(slots=True)
class _Call:
    """A call as the writer knows it: state, stored messageIds and digests, row version."""

    state: CallState
    version: int
    message_ids: set[str] = field(default_factory=set)
    digests: set[int] = field(default_factory=set)


@dataclass(slots=True)
class Staged:
    """A batch applied in the open transaction, not yet committed (see ``Writer.stage``)."""

    results: list[Outcome | Exception]
    batch: _Batch
    call_ids: set[str]


@dataclass(slots=True)
class _Batch:
    messages: list[Params] = field(default_factory=list)
    arrivals: list[Params] = field(default_factory=list)
    duplicates: list[Params] = field(default_factory=list)
    rare: Rare = field(default_factory=Rare)
    dirty: dict[str, _Call] = field(default_factory=dict)


class Writer:
    """Applies batches of ``Incoming`` events; use it from one thread at a time."""

    def __init__(self, engine: Engine, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self._engine = engine
        self._max_depth = max_depth
        self._conn: Connection | None = None
        self._transaction: RootTransaction | None = None
        self._cache: OrderedDict[str, _Call] = OrderedDict()
        self._assistants: set[str] = set()
        self._postgres = engine.dialect.name == "postgresql"
        dialect = engine.dialect
        self._insert_messages = prepared_insert(messages, dialect, _MESSAGE_COLUMNS)
        self._insert_arrivals = prepared_insert(arrivals, dialect, _ARRIVAL_COLUMNS)
        self._count_duplicate = prepared_update(
            arrivals, dialect, ("call_pk", "digest"), ("last_received_at",), "duplicates"
        )
        self._update_calls = prepared_update(calls, dialect, ("pk",), STATE_COLUMNS)
        # Built once, so SQLAlchemy's compiled cache serves every batch (the IN list expands).
        versions = select(calls.c.call_id, calls.c.pk, calls.c.version).where(
            calls.c.call_id.in_(bindparam("ids", expanding=True))
        )
        if self._postgres:  # lock in one order everywhere: fewer deadlocks between processes
            versions = versions.order_by(calls.c.call_id).with_for_update()
        self._versions = versions

    def close(self) -> None:
        """Release the connection (rolling back a transaction left open by ``begin``)."""
        self._transaction = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def forget_assistants(self) -> None:
        """Forget which assistant objects are stored: rows were deleted (retention, erasure),
        so the next event carrying one writes it again (``ON CONFLICT DO NOTHING``)."""
        self._assistants.clear()

    def begin(self) -> None:
        """Open the batch's transaction (SQLite: ``BEGIN IMMEDIATE``, waiting for the lock)."""
        self._transaction = self._connection().begin()

    def stage(self, items: list[Incoming]) -> Staged:
        """Apply ``items`` in the transaction ``begin`` opened, without committing.

        Raises what the database raises (the cache entries of the batch's calls are dropped);
        the caller then closes the writer and may retry the items with ``apply_each``.
        """
        if self._conn is None or self._transaction is None:
            raise RuntimeError("Writer.stage() needs Writer.begin() first")
        batch = _Batch()
        call_ids = {item.call_id for item in items if item.call_id is not None}
        try:
            results = self._apply(self._conn, items, call_ids, batch)
        except BaseException:
            self._forget(call_ids)
            raise
        return Staged(results, batch, call_ids)

    def commit(self, staged: Staged) -> list[Outcome | Exception]:
        """Commit what ``stage`` applied; the results of its items."""
        transaction, self._transaction = self._transaction, None
        if transaction is None:
            raise RuntimeError("Writer.commit() without an open transaction")
        try:
            transaction.commit()
        except BaseException:
            self._forget(staged.call_ids)
            raise
        self._remember(staged.batch)
        return staged.results

    def apply(self, items: list[Incoming]) -> list[Outcome | Exception]:
        """Apply ``items`` in order in one transaction; a result (or the error) per item.

        When the batch fails in the database, each item is retried alone, so that one bad
        event cannot fail the others.
        """
        try:
            return self._apply_committed(items)
        except SQLAlchemyError as exc:
            self.close()
            if len(items) == 1:
                logger.warning("store.write_failed %s: %s", type(exc).__name__, exc)
                return [StorageError(f"The database refused the event: {type(exc).__name__}")]
        return self.apply_each(items)

    def apply_each(self, items: list[Incoming]) -> list[Outcome | Exception]:
        """Apply each item in a transaction of its own (after a batch failed)."""
        return [result for item in items for result in self.apply([item])]

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
            self._conn.info["callhook_writer"] = True
        return self._conn

    def _apply_committed(self, items: list[Incoming]) -> list[Outcome | Exception]:
        self.begin()
        try:
            staged = self.stage(items)
        except BaseException:
            self.close()  # rolls the transaction back
            raise
        return self.commit(staged)

    def _forget(self, call_ids: set[str]) -> None:
        for call_id in call_ids:
            self._cache.pop(call_id, None)

    def _remember(self, batch: _Batch) -> None:
        """After a commit: cache the calls the batch changed, at their new version."""
        for call_id, known in batch.dirty.items():
            known.version += 1
            self._cache[call_id] = known
            self._cache.move_to_end(call_id)
        while len(self._cache) > _CACHE_CALLS:
            self._cache.popitem(last=False)
        if len(self._assistants) > _CACHE_ASSISTANTS:
            self._assistants.clear()
        self._assistants.update(batch.rare.assistants)

    def _apply(
        self, conn: Connection, items: list[Incoming], call_ids: set[str], batch: _Batch
    ) -> list[Outcome | Exception]:
        known = self._lock_and_load(conn, call_ids)
        results: list[Outcome | Exception] = []
        for item in items:
            try:
                results.append(self._one(conn, item, known, batch))
            except DecodeError as exc:
                results.append(exc)
        self._write(conn, batch)
        return results

    # -- one event ---------------------------------------------------------------------------

    def _one(
        self, conn: Connection, item: Incoming, known: dict[str, _Call], batch: _Batch
    ) -> Outcome:
        call_id = item.call_id
        if call_id is None:
            batch.rare.unattributed.append(
                {
                    "digest": item.digest,
                    "type": item.type.value,
                    "event_ts": item.ts,
                    "received_at": item.received_at,
                    "duplicates": 0,
                    "body": (item.body or b"{}").decode(),
                }
            )
            return Outcome("unattributed", None)
        call = known.get(call_id)
        new_rows: list[Params] | None = None
        if call is None:
            new_rows = self._new_messages(item, set())  # validated before the call exists
            call, created = self._create(conn, call_id, item)
            known[call_id] = call
            if not created:  # another process created it meanwhile: judge against theirs
                new_rows = None
        if item.digest in call.digests:
            pk = call.state.pk
            batch.duplicates.append(
                {"k_call_pk": pk, "k_digest": item.digest, "last_received_at": item.received_at}
            )
            call.state.duplicate_count += 1
            call.state.updated_at = max(call.state.updated_at, item.received_at)
            batch.dirty[call_id] = call
            return Outcome("duplicate", call_id)
        if new_rows is None:
            new_rows = self._new_messages(item, call.message_ids)
        state = call.state
        pk = state.pk
        late = merge(state, item)
        call.digests.add(item.digest)
        for row in new_rows:
            row["call_pk"] = pk
            call.message_ids.add(row["message_id"])
        batch.messages.extend(new_rows)
        if item.type is EventType.HANG or any(r["hang_reply_to"] for r in new_rows):
            batch.rare.recoveries.add(pk)
        state.message_count += len(new_rows)
        state.event_count += 1
        batch.dirty[call_id] = call
        batch.arrivals.append(
            {
                "call_pk": pk,
                "digest": item.digest,
                "type": EVENT_CODES[item.type.value],
                "event_ts": item.ts,
                "received_at": item.received_at,
                "last_received_at": item.received_at,
                "duplicates": 0,
                "late": late,
                "new_messages": len(new_rows),
                "message_count": len(item.messages or ()),
                "body": pack(item.body) if item.body is not None else None,
                "assistant_digest": item.assistant_digest,
            }
        )
        status = item.status
        if status:
            ts = item.ts if item.ts is not None else 0
            first = state.history.get(status)
            if first is None or ts < first:
                state.history[status] = ts
                batch.rare.history.append(
                    {
                        "call_pk": pk,
                        "status": status,
                        "rank": status_rank(status),
                        "first_ts": ts,
                        "received_at": item.received_at,
                    }
                )
        if item.assistant_digest and item.assistant_digest not in self._assistants:
            batch.rare.add_assistant(item)
        if item.type is EventType.HANG:
            batch.rare.add_hang(item, state)
        elif item.type is EventType.ERROR:
            batch.rare.add_error(item, state)
        return Outcome("stored", call_id, len(new_rows), late)

    def _new_messages(self, item: Incoming, known: set[str]) -> list[Params]:
        rows: list[Params] = []
        if not item.messages:
            return rows
        taken: set[str] = set()
        for position, message in enumerate(item.messages):
            message_id = message.message_id
            if message_id in known or message_id in taken:
                continue
            path = f"$.message.messages[{position}]"
            check_depth(message.raw, self._max_depth - 3, path)
            decoded = decode_message(message.raw, path=path)
            ts, role = decoded.timestamp, decoded.role
            reply_to, waited = _late_response(message_id, decoded)
            taken.add(message_id)
            rows.append(
                {
                    "message_id": message_id,
                    "position": position,
                    "ts": int(ts) if isinstance(ts, int | float) and abs(ts) < 2**62 else None,
                    "role": role.replace("\x00", "") if isinstance(role, str) else None,
                    "body": pack(compact(message.raw)),
                    "hang_reply_to": reply_to,
                    "hang_waited_ms": waited,
                }
            )
        return rows

    # -- reading what the batch needs ----------------------------------------------------------

    def _lock_and_load(self, conn: Connection, call_ids: set[str]) -> dict[str, _Call]:
        """Lock the batch's call rows; reuse cached calls whose version still matches."""
        known: dict[str, _Call] = {}
        stale: list[str] = []
        ids = sorted(call_ids)
        for start in range(0, len(ids), 500):
            rows = conn.execute(self._versions, {"ids": ids[start : start + 500]})
            for call_id, pk, version in rows:
                cached = self._cache.get(call_id)
                if cached is not None and cached.version == version and cached.state.pk == pk:
                    known[call_id] = cached
                else:
                    stale.append(call_id)
        for start in range(0, len(stale), 500):
            known.update(self._load(conn, stale[start : start + 500]))
        return known

    def _load(self, conn: Connection, call_ids: list[str]) -> dict[str, _Call]:
        loaded: dict[int, _Call] = {}
        for row in conn.execute(select(calls).where(calls.c.call_id.in_(call_ids))):
            loaded[row.pk] = _Call(state_from_row(row), row.version)
        pks = list(loaded)
        query = select(messages.c.call_pk, messages.c.message_id)
        for pk, message_id in conn.execute(query.where(messages.c.call_pk.in_(pks))):
            loaded[pk].message_ids.add(message_id)
        query = select(arrivals.c.call_pk, arrivals.c.digest)
        for pk, digest in conn.execute(query.where(arrivals.c.call_pk.in_(pks))):
            loaded[pk].digests.add(digest)
        history = select(
            status_history.c.call_pk, status_history.c.status, status_history.c.first_ts
        ).where(status_history.c.call_pk.in_(pks))
        for row in conn.execute(history):
            loaded[row.call_pk].state.history[row.status] = row.first_ts
        by_digest: dict[str, list[CallState]] = {}
        for call in loaded.values():
            if call.state.assistant_digest is not None:
                by_digest.setdefault(call.state.assistant_digest, []).append(call.state)
        if by_digest:
            query = select(assistants.c.digest, assistants.c.body)
            for digest, body in conn.execute(query.where(assistants.c.digest.in_(by_digest))):
                for state in by_digest[digest]:
                    state.assistant_keys = assistant_keys(body)
        return {call.state.call_id: call for call in loaded.values()}

    def _create(self, conn: Connection, call_id: str, item: Incoming) -> tuple[_Call, bool]:
        """The new call and ``True``; or, when another process created it since we looked
        (its insert committed while ours waited), that call, locked and loaded, and ``False``."""
        pk = conn.execute(Rare.create_call(self._postgres, call_id, item)).scalar()
        if pk is None:
            return self._lock_and_load(conn, {call_id})[call_id], False
        return _Call(CallState(call_id, pk=pk), version=0), True

    # -- writing -----------------------------------------------------------------------------

    def _write(self, conn: Connection, batch: _Batch) -> None:
        batch.rare.write_before(conn, self._postgres)
        self._insert_messages.run(conn, batch.messages)
        self._insert_arrivals.run(conn, batch.arrivals)
        self._count_duplicate.run(conn, batch.duplicates)
        counts = batch.rare.write_after(conn, self._postgres)
        batch.rare.link_recoveries(conn)
        rows = []
        for call in batch.dirty.values():
            state = call.state
            assert state.pk is not None
            state.hang_count += counts.hangs.get(state.pk, 0)
            state.error_count += counts.errors.get(state.pk, 0)
            rows.append(state_values(state, version=call.version + 1))
        self._update_calls.run(conn, rows)


def _late_response(message_id: str, message: Message) -> tuple[str | None, int | None]:
    """``(user messageId answered, waited ms)`` for a response carrying ``metrics.hang``."""
    metrics = message.metrics
    hang = metrics.hang if isinstance(metrics, MessageMetrics) else None
    if not isinstance(hang, HangMetrics):
        return None, None
    parent = parse_message_id(message_id).parent_id
    waited = hang.waited_ms
    ms = int(waited) if isinstance(waited, int | float) and abs(waited) < 2**62 else None
    return parent or None, ms
