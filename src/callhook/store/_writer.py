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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, RootTransaction, select

from callhook._exceptions import DecodeError, StorageError
from callhook.store._batch import Batch, KnownCall, Outcome, apply_event
from callhook.store._merge import CallState
from callhook.store._parse import DEFAULT_MAX_DEPTH, Incoming, assistant_keys
from callhook.store._rows import STATE_COLUMNS, state_from_row, state_row
from callhook.store._schema import arrivals, assistants, calls, messages, status_history
from callhook.store._sql import DRIVER_ERRORS, IN_CHUNK, HotSql, cursor, run_many

__all__ = ["CommitHook", "Outcome", "Staged", "Writer"]

logger = logging.getLogger("callhook.store")

_CACHE_CALLS = 10_000
_CACHE_ASSISTANTS = 10_000


class CommitHook(Protocol):
    """Writes more rows in each ingest transaction: the relay's outbox rows (a forwarded
    event is stored and queued in one commit).

    ``stage`` runs in the open transaction after the batch was applied, with a driver cursor
    of it and each item's result; it may raise, which fails the batch as a database error
    does. Then exactly one of ``committed`` and ``discarded`` says what became of it.
    """

    def stage(
        self,
        cursor: Any,  # Any: the driver's DB-API cursor (sqlite3 or psycopg)
        items: Sequence[Incoming],
        results: Sequence[Outcome | Exception],
    ) -> None: ...

    def committed(self) -> None: ...

    def discarded(self) -> None: ...


@dataclass(slots=True)
class Staged:
    """A batch applied in the open transaction, not yet committed (see ``Writer.stage``)."""

    results: list[Outcome | Exception]
    batch: Batch
    call_ids: set[str]


class Writer:
    """Applies batches of ``Incoming`` events; use it from one thread at a time."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_depth: int = DEFAULT_MAX_DEPTH,
        hook: CommitHook | None = None,
    ) -> None:
        self._engine = engine
        self._hook = hook
        self._max_depth = max_depth
        self._conn: Connection | None = None
        self._transaction: RootTransaction | None = None
        self._cache: OrderedDict[str, KnownCall] = OrderedDict()
        self._assistants: set[str] = set()
        self._postgres = engine.dialect.name == "postgresql"
        self._sql = HotSql(engine.dialect.name, STATE_COLUMNS)

    def close(self) -> None:
        """Release the connection (rolling back a transaction left open by ``begin``)."""
        if self._transaction is not None and self._hook is not None:
            self._hook.discarded()
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
        batch = Batch()
        call_ids = {item.call_id for item in items if item.call_id is not None}
        try:
            results = self._apply(self._conn, items, call_ids, batch)
            if self._hook is not None:
                cur = cursor(self._conn)
                try:
                    self._hook.stage(cur, items, results)
                finally:
                    cur.close()
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
            if self._hook is not None:
                self._hook.discarded()
            raise
        self._remember(staged.batch)
        if self._hook is not None:
            self._hook.committed()
        return staged.results

    def apply(self, items: list[Incoming]) -> list[Outcome | Exception]:
        """Apply ``items`` in order in one transaction; a result (or the error) per item.

        When the batch fails in the database, each item is retried alone, so that one bad
        event cannot fail the others.
        """
        try:
            return self._apply_committed(items)
        except DRIVER_ERRORS as exc:
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

    def _remember(self, batch: Batch) -> None:
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
        self, conn: Connection, items: list[Incoming], call_ids: set[str], batch: Batch
    ) -> list[Outcome | Exception]:
        known = self._lock_and_load(conn, call_ids)
        results: list[Outcome | Exception] = []

        def create(call_id: str, item: Incoming) -> tuple[KnownCall, bool]:
            return self._create(conn, call_id, item)

        for item in items:
            try:
                results.append(
                    apply_event(
                        item,
                        known,
                        batch,
                        create=create,
                        assistants=self._assistants,
                        max_depth=self._max_depth,
                    )
                )
            except DecodeError as exc:
                results.append(exc)
        self._write(conn, batch)
        return results

    # -- reading what the batch needs ----------------------------------------------------------

    def _lock_and_load(self, conn: Connection, call_ids: set[str]) -> dict[str, KnownCall]:
        """Lock the batch's call rows; reuse cached calls whose version still matches."""
        known: dict[str, KnownCall] = {}
        stale: list[str] = []
        ids = sorted(call_ids)
        cur = cursor(conn)
        try:
            for start in range(0, len(ids), IN_CHUNK):
                chunk = ids[start : start + IN_CHUNK]
                cur.execute(self._sql.versions(len(chunk)), chunk)
                for call_id, pk, version in cur.fetchall():
                    cached = self._cache.get(call_id)
                    if cached is not None and cached.version == version and cached.state.pk == pk:
                        known[call_id] = cached
                    else:
                        stale.append(call_id)
        finally:
            cur.close()
        for start in range(0, len(stale), IN_CHUNK):
            known.update(self._load(conn, stale[start : start + IN_CHUNK]))
        return known

    def _load(self, conn: Connection, call_ids: list[str]) -> dict[str, KnownCall]:
        loaded: dict[int, KnownCall] = {}
        for row in conn.execute(select(calls).where(calls.c.call_id.in_(call_ids))):
            loaded[row.pk] = KnownCall(state_from_row(row), row.version)
        pks = list(loaded)
        stored = select(messages.c.call_pk, messages.c.message_id, messages.c.in_update)
        for pk, message_id, in_update in conn.execute(stored.where(messages.c.call_pk.in_(pks))):
            loaded[pk].message_ids.add(message_id)
            if not in_update:
                loaded[pk].uncarried.add(message_id)
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

    def _create(self, conn: Connection, call_id: str, item: Incoming) -> tuple[KnownCall, bool]:
        """The new call and ``True``; or, when another process created it since we looked
        (its insert committed while ours waited), that call, locked and loaded, and ``False``."""
        cur = cursor(conn)
        try:
            cur.execute(
                self._sql.create_call, self._sql.create_row(call_id, item.ts, item.received_at)
            )
            created = cur.fetchone()
        finally:
            cur.close()
        if created is None:
            return self._lock_and_load(conn, {call_id})[call_id], False
        return KnownCall(CallState(call_id, pk=created[0]), version=0), True

    # -- writing -----------------------------------------------------------------------------

    def _write(self, conn: Connection, batch: Batch) -> None:
        sql = self._sql
        batch.rare.write_before(conn, self._postgres)
        run_many(conn, sql.insert_messages, batch.messages)
        run_many(conn, sql.carry_messages, batch.carried)
        run_many(conn, sql.insert_arrivals, batch.arrivals)
        run_many(conn, sql.count_duplicate, batch.duplicates)
        counts = batch.rare.write_after(conn, self._postgres)
        batch.rare.link_recoveries(conn)
        rows = []
        for call in batch.dirty.values():
            state = call.state
            assert state.pk is not None
            state.hang_count += counts.hangs.get(state.pk, 0)
            state.error_count += counts.errors.get(state.pk, 0)
            rows.append(state_row(state, version=call.version + 1))
        run_many(conn, sql.update_calls, rows)
