"""The write side: apply a batch of events in one transaction (the unit of group commit).

``Writer.apply`` is synchronous and owns one connection; the async ``Store`` calls it from
one worker thread. Per batch it reads the calls concerned (locked on PostgreSQL), validates
and decodes only the messages each call has not seen, merges call state (``_merge``), then
writes everything with one statement per table. A cache of each call's stored messageIds and
event digests (filled from the database on first use, updated only after a commit) makes an
unchanged re-delivery cost no decoding at all; uniqueness constraints keep it correct when
several processes write the same call.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from callhook._exceptions import DecodeError, StorageError
from callhook.events import EventType, decode_message
from callhook.store._merge import CallState, merge, status_rank
from callhook.store._parse import DEFAULT_MAX_DEPTH, Incoming, check_depth, compact
from callhook.store._rows import state_from_row, state_values
from callhook.store._schema import (
    arrivals,
    assistants,
    calls,
    errors,
    hangs,
    messages,
    status_history,
    unattributed,
)

__all__ = ["Outcome", "Writer"]

logger = logging.getLogger("callhook.store")

_CACHE_CALLS = 20_000
_CACHE_ASSISTANTS = 10_000


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the store did with one event: ``stored``, ``duplicate`` or ``unattributed``."""

    outcome: str
    call_id: str | None
    new_messages: int = 0
    late: bool = False


@dataclass(slots=True)
class _Seen:
    pk: int
    message_ids: set[str] = field(default_factory=set)
    digests: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Batch:
    """Rows gathered for one transaction, written one statement per table at the end."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    assistants: dict[str, dict[str, Any]] = field(default_factory=dict)
    hangs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    unattributed: list[dict[str, Any]] = field(default_factory=list)
    seen: dict[str, _Seen] = field(default_factory=dict)


class Writer:
    """Applies batches of ``Incoming`` events; not thread-safe (use from one thread)."""

    def __init__(self, engine: Engine, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self._engine = engine
        self._max_depth = max_depth
        self._conn: Connection | None = None
        self._seen: OrderedDict[str, _Seen] = OrderedDict()
        self._assistants: set[str] = set()
        dialect = sqlite if engine.dialect.name == "sqlite" else postgresql
        self._insert = dialect.insert
        self._lock_rows = engine.dialect.name == "postgresql"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def apply(self, items: list[Incoming]) -> list[Outcome | Exception]:
        """Apply ``items`` in order in one transaction; a result (or the error) per item.

        When the batch as a whole fails in the database, each item is retried alone so that
        one bad event cannot fail the others.
        """
        try:
            return self._apply_committed(items)
        except SQLAlchemyError as exc:
            self.close()
            if len(items) == 1:
                logger.warning("store.write_failed %s", type(exc).__name__)
                return [StorageError(f"The database refused the event: {type(exc).__name__}")]
        return [result for item in items for result in self.apply([item])]

    def _apply_committed(self, items: list[Incoming]) -> list[Outcome | Exception]:
        if self._conn is None:
            self._conn = self._engine.connect()
            self._conn.info["callhook_writer"] = True
        conn = self._conn
        batch = _Batch()
        with conn.begin():
            results = self._apply(conn, items, batch)
        for call_id, seen in batch.seen.items():
            self._seen[call_id] = seen
            self._seen.move_to_end(call_id)
        while len(self._seen) > _CACHE_CALLS:
            self._seen.popitem(last=False)
        if len(self._assistants) > _CACHE_ASSISTANTS:
            self._assistants.clear()
        self._assistants.update(batch.assistants)
        return results

    def _apply(
        self, conn: Connection, items: list[Incoming], batch: _Batch
    ) -> list[Outcome | Exception]:
        states = self._load_states(conn, {i.call_id for i in items if i.call_id is not None})
        dirty: dict[str, CallState] = {}
        results: list[Outcome | Exception] = []
        for item in items:
            try:
                results.append(self._one(conn, item, states, dirty, batch))
            except DecodeError as exc:
                results.append(exc)
        self._write(conn, batch, dirty)
        return results

    def _one(
        self,
        conn: Connection,
        item: Incoming,
        states: dict[str, CallState],
        dirty: dict[str, CallState],
        batch: _Batch,
    ) -> Outcome:
        call_id = item.call_id
        if call_id is None:
            batch.unattributed.append(
                {
                    "digest": item.digest,
                    "type": item.type.value,
                    "event_ts": item.ts,
                    "received_at": item.received_at,
                    "duplicates": 0,
                    "body": item.body.decode() if item.body else "{}",
                }
            )
            return Outcome("unattributed", None)
        state = states.get(call_id)
        seen = self._seen_for(conn, call_id, state, batch)
        if item.digest in seen.digests:
            batch.arrivals.append(self._arrival(seen.pk, item, late=False, new=0, duplicate=True))
            if state is not None:
                state.duplicate_count += 1
                dirty[call_id] = state
            return Outcome("duplicate", call_id)
        new_rows = self._new_messages(item, seen)  # may raise DecodeError: nothing written yet
        if state is None:
            state = states[call_id] = self._create(conn, call_id, item)
            seen.pk = state.pk if state.pk is not None else seen.pk
        pk = state.pk
        assert pk is not None
        late = merge(state, item)
        dirty[call_id] = state
        seen.digests.add(item.digest)
        for row in new_rows:
            row["call_pk"] = pk
            seen.message_ids.add(row["message_id"])
        batch.messages.extend(new_rows)
        batch.arrivals.append(self._arrival(pk, item, late=late, new=len(new_rows)))
        state.event_count += 1
        if item.status:
            batch.history.append(
                {
                    "call_pk": pk,
                    "status": item.status,
                    "rank": status_rank(item.status),
                    "first_ts": item.ts if item.ts is not None else 0,
                    "received_at": item.received_at,
                }
            )
        if item.assistant_digest and item.assistant_digest not in self._assistants:
            batch.assistants[item.assistant_digest] = {
                "digest": item.assistant_digest,
                "assistant_id": item.assistant_id,
                "name": item.assistant_name,
                "body": (item.assistant or b"{}").decode(),
                "first_seen": item.received_at,
            }
        count = len(item.messages or ())
        if item.type is EventType.HANG:
            batch.hangs.append(_hang_row(pk, item, state, count))
        elif item.type is EventType.ERROR:
            batch.errors.append(_error_row(pk, item, state))
        return Outcome("stored", call_id, len(new_rows), late)

    def _new_messages(self, item: Incoming, seen: _Seen) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        if not item.messages:
            return rows
        known = seen.message_ids
        taken: set[str] = set()
        for position, message in enumerate(item.messages):
            message_id = message.message_id
            if message_id in known or message_id in taken:
                continue
            path = f"$.message.messages[{position}]"
            check_depth(message.raw, self._max_depth - 3, path)
            decoded = decode_message(message.raw, path=path)
            ts = decoded.timestamp
            taken.add(message_id)
            rows.append(
                {
                    "message_id": message_id.replace("\x00", ""),
                    "position": position,
                    "ts": int(ts) if isinstance(ts, int | float) and abs(ts) < 2**62 else None,
                    "role": decoded.role.replace("\x00", "")
                    if isinstance(decoded.role, str)
                    else None,
                    "body": compact(message.raw).decode(),
                }
            )
        return rows

    # -- reading what the batch needs ----------------------------------------------------------

    def _load_states(self, conn: Connection, call_ids: set[str]) -> dict[str, CallState]:
        states: dict[str, CallState] = {}
        ids = sorted(call_ids)
        for start in range(0, len(ids), 500):
            query = select(calls).where(calls.c.call_id.in_(ids[start : start + 500]))
            if self._lock_rows:
                query = query.with_for_update()
            for row in conn.execute(query):
                states[row.call_id] = state_from_row(row)
        return states

    def _seen_for(
        self, conn: Connection, call_id: str, state: CallState | None, batch: _Batch
    ) -> _Seen:
        seen = batch.seen.get(call_id)
        if seen is not None:
            return seen
        cached = self._seen.get(call_id)
        if state is None:
            seen = _Seen(pk=-1)
        elif cached is not None and cached.pk == state.pk:
            seen = _Seen(state.pk, set(cached.message_ids), set(cached.digests))
        else:
            assert state.pk is not None
            pk = state.pk
            ids = conn.execute(select(messages.c.message_id).where(messages.c.call_pk == pk))
            digests = conn.execute(select(arrivals.c.digest).where(arrivals.c.call_pk == pk))
            seen = _Seen(pk, set(ids.scalars()), set(digests.scalars()))
        batch.seen[call_id] = seen
        return seen

    def _create(self, conn: Connection, call_id: str, item: Incoming) -> CallState:
        now = item.received_at
        ts = item.ts
        insert = (
            self._insert(calls)
            .values(
                call_id=call_id,
                status_rank=-1,
                first_ts=ts,
                last_ts=ts,
                fields="{}",
                field_ts="{}",
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["call_id"])
            .returning(calls.c.pk)
        )
        pk = conn.execute(insert).scalar()
        if pk is None:  # another process created it since we looked: merge into theirs
            query = select(calls).where(calls.c.call_id == call_id)
            row = conn.execute(query.with_for_update() if self._lock_rows else query).one()
            return state_from_row(row)
        return CallState(call_id, pk=pk)

    def _arrival(
        self, pk: int, item: Incoming, *, late: bool, new: int, duplicate: bool = False
    ) -> dict[str, Any]:
        return {
            "call_pk": pk,
            "digest": item.digest,
            "type": item.type.value,
            "event_ts": item.ts,
            "received_at": item.received_at,
            "last_received_at": item.received_at,
            "duplicates": 1 if duplicate else 0,
            "late": late,
            "new_messages": new,
            "message_count": len(item.messages or ()),
            "body": item.body.decode() if item.body is not None else None,
            "assistant_digest": item.assistant_digest,
        }

    # -- writing -----------------------------------------------------------------------------

    def _write(self, conn: Connection, batch: _Batch, dirty: dict[str, CallState]) -> None:
        ins = self._insert
        if batch.assistants:
            stmt = ins(assistants).on_conflict_do_nothing(index_elements=["digest"])
            conn.execute(stmt, list(batch.assistants.values()))
        inserted: dict[int, int] = {}
        if batch.messages:
            stmt = ins(messages).on_conflict_do_nothing(index_elements=["call_pk", "message_id"])
            for (pk,) in conn.execute(stmt.returning(messages.c.call_pk), batch.messages):
                inserted[pk] = inserted.get(pk, 0) + 1
        if batch.arrivals:
            stmt = ins(arrivals)
            stmt = stmt.on_conflict_do_update(
                index_elements=["call_pk", "digest"],
                set_={
                    "duplicates": arrivals.c.duplicates + 1,
                    "last_received_at": stmt.excluded.last_received_at,
                },
            )
            conn.execute(stmt, batch.arrivals)
        if batch.history:
            stmt = ins(status_history)
            earlier = stmt.excluded.first_ts < status_history.c.first_ts
            stmt = stmt.on_conflict_do_update(
                index_elements=["call_pk", "status"],
                set_={
                    "first_ts": case(
                        (earlier, stmt.excluded.first_ts), else_=status_history.c.first_ts
                    )
                },
            )
            conn.execute(stmt, batch.history)
        hang_counts = self._insert_counted(conn, hangs, batch.hangs, ["call_pk", "event_ts"])
        error_counts = self._insert_counted(
            conn, errors, batch.errors, ["call_pk", "event_ts", "error_type", "code"]
        )
        if batch.unattributed:
            stmt = ins(unattributed)
            stmt = stmt.on_conflict_do_update(
                index_elements=["digest"], set_={"duplicates": unattributed.c.duplicates + 1}
            )
            conn.execute(stmt, batch.unattributed)
        if dirty:
            rows = []
            now = max((row["received_at"] for row in batch.arrivals), default=0)
            for state in dirty.values():
                assert state.pk is not None
                state.message_count += inserted.get(state.pk, 0)
                state.hang_count += hang_counts.get(state.pk, 0)
                state.error_count += error_counts.get(state.pk, 0)
                rows.append(state_values(state, updated_at=now))
            stmt = update(calls).where(calls.c.pk == bindparam("b_pk"))
            conn.execute(stmt, rows)

    def _insert_counted(
        self, conn: Connection, table: Any, rows: list[dict[str, Any]], keys: list[str]
    ) -> dict[int, int]:
        counts: dict[int, int] = {}
        if rows:
            stmt = self._insert(table).on_conflict_do_nothing(index_elements=keys)
            for (pk,) in conn.execute(stmt.returning(table.c.call_pk), rows):
                counts[pk] = counts.get(pk, 0) + 1
        return counts


def _hang_row(pk: int, item: Incoming, state: CallState, count: int) -> dict[str, Any]:
    hang = item.hang
    waited = hang.waited_ms if hang is not None else None
    threshold = hang.threshold_ms if hang is not None else None
    return {
        "call_pk": pk,
        "event_ts": item.ts if item.ts is not None else 0,
        "received_at": item.received_at,
        "assistant_id": state.assistant_id,
        "pending_message_id": _str(hang.pending_message_id) if hang is not None else None,
        "waited_ms": _int(waited),
        "threshold_ms": _int(threshold),
        "stage": _str(hang.stage) if hang is not None else None,
        "message_count": count,
        "hang": item.hang_raw.decode() if item.hang_raw is not None else None,
    }


def _error_row(pk: int, item: Incoming, state: CallState) -> dict[str, Any]:
    error = item.error
    return {
        "call_pk": pk,
        "event_ts": item.ts if item.ts is not None else 0,
        "received_at": item.received_at,
        "assistant_id": state.assistant_id,
        "error_type": (_str(error.type) if error is not None else None) or "",
        "code": (_str(error.code) if error is not None else None) or "",
        "provider": _str(error.provider) if error is not None else None,
        "retryable": error.retryable
        if error is not None and isinstance(error.retryable, bool)
        else None,
        "message": _str(error.message) if error is not None else None,
        "error": item.error_raw.decode() if item.error_raw is not None else None,
    }


def _str(value: object) -> str | None:
    return value.replace("\x00", "") if isinstance(value, str) else None


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if abs(value) < 2**62 else None
