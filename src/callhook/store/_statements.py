"""Rows that few events produce (assistants, status changes, hangs, errors, unattributed
events) and the statement that creates a call; written with plain SQLAlchemy Core."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, bindparam, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert, Update

from callhook.store._merge import CallState
from callhook.store._parse import Incoming
from callhook.store._schema import (
    assistants,
    calls,
    errors,
    hangs,
    messages,
    status_history,
    unattributed,
)
from callhook.store._sql import Params

__all__ = ["Counts", "Rare"]


def _insert(postgres: bool, table: Table) -> Any:  # Any: the dialect's Insert with on_conflict
    return postgresql.insert(table) if postgres else sqlite.insert(table)


@dataclass(frozen=True, slots=True)
class Counts:
    """Hang and error rows actually inserted, per call pk (re-deliveries insert none)."""

    hangs: dict[int, int]
    errors: dict[int, int]


@dataclass(slots=True)
class Rare:
    assistants: dict[str, Params] = field(default_factory=dict)
    history: list[Params] = field(default_factory=list)
    hangs: list[Params] = field(default_factory=list)
    errors: list[Params] = field(default_factory=list)
    unattributed: list[Params] = field(default_factory=list)
    #: Calls whose hangs may have met their late response in this batch.
    recoveries: set[int | None] = field(default_factory=set)

    @staticmethod
    def create_call(postgres: bool, call_id: str, item: Incoming) -> Insert:
        """``INSERT`` a new call row, returning its pk (none if it already exists)."""
        statement: Insert = (
            _insert(postgres, calls)
            .values(
                call_id=call_id,
                status_rank=-1,
                first_ts=item.ts,
                last_ts=item.ts,
                fields="{}",
                field_ts="{}",
                created_at=item.received_at,
                updated_at=item.received_at,
            )
            .on_conflict_do_nothing(index_elements=["call_id"])
            .returning(calls.c.pk)
        )
        return statement

    def add_unattributed(self, item: Incoming) -> None:
        self.unattributed.append(
            {
                "digest": item.digest,
                "type": item.type.value,
                "event_ts": item.ts,
                "received_at": item.received_at,
                "duplicates": 0,
                "body": (item.body or b"{}").decode(),
            }
        )

    def add_assistant(self, item: Incoming) -> None:
        assert item.assistant_digest is not None
        self.assistants[item.assistant_digest] = {
            "digest": item.assistant_digest,
            "assistant_id": item.assistant_id,
            "name": item.assistant_name,
            "body": (item.assistant or b"{}").decode(),
            "first_seen": item.received_at,
        }

    def add_hang(self, item: Incoming, state: CallState) -> None:
        hang = item.hang
        self.hangs.append(
            {
                "call_pk": state.pk,
                "event_ts": item.ts if item.ts is not None else 0,
                "received_at": item.received_at,
                "assistant_id": state.assistant_id,
                "pending_message_id": _str(hang.pending_message_id) if hang else None,
                "waited_ms": _int(hang.waited_ms) if hang else None,
                "threshold_ms": _int(hang.threshold_ms) if hang else None,
                "stage": _str(hang.stage) if hang else None,
                "message_count": len(item.messages or ()),
                "hang": item.hang_raw.decode() if item.hang_raw is not None else None,
            }
        )

    def add_error(self, item: Incoming, state: CallState) -> None:
        error = item.error
        retryable = error.retryable if error is not None else None
        self.errors.append(
            {
                "call_pk": state.pk,
                "event_ts": item.ts if item.ts is not None else 0,
                "received_at": item.received_at,
                "assistant_id": state.assistant_id,
                "error_type": (_str(error.type) if error else None) or "",
                "code": (_str(error.code) if error else None) or "",
                "provider": _str(error.provider) if error else None,
                "retryable": retryable if isinstance(retryable, bool) else None,
                "message": _str(error.message) if error else None,
                "error": item.error_raw.decode() if item.error_raw is not None else None,
            }
        )

    def link_recoveries(self, conn: Connection) -> None:
        """Pair hangs with late responses; either may have arrived first."""
        pks = sorted(pk for pk in self.recoveries if pk is not None)
        if pks:
            conn.execute(_LINK, [{"k_call_pk": pk} for pk in pks])

    def write_before(self, conn: Connection, postgres: bool) -> None:
        """Rows other rows may refer to: assistants."""
        if self.assistants:
            stmt = _insert(postgres, assistants).on_conflict_do_nothing(index_elements=["digest"])
            conn.execute(stmt, list(self.assistants.values()))

    def write_after(self, conn: Connection, postgres: bool) -> Counts:
        if self.history:
            stmt = _insert(postgres, status_history)
            earlier = stmt.excluded.first_ts < status_history.c.first_ts
            first = case((earlier, stmt.excluded.first_ts), else_=status_history.c.first_ts)
            stmt = stmt.on_conflict_do_update(
                index_elements=["call_pk", "status"], set_={"first_ts": first}
            )
            conn.execute(stmt, self.history)
        if self.unattributed:
            stmt = _insert(postgres, unattributed)
            stmt = stmt.on_conflict_do_update(
                index_elements=["digest"], set_={"duplicates": unattributed.c.duplicates + 1}
            )
            conn.execute(stmt, self.unattributed)
        return Counts(
            hangs=_counted(conn, postgres, hangs, self.hangs, ["call_pk", "event_ts"]),
            errors=_counted(
                conn, postgres, errors, self.errors, ["call_pk", "event_ts", "error_type", "code"]
            ),
        )


def _link_statement() -> Update:
    """Set each open hang's recovery from the earliest stored late response to its message."""
    late = (
        select(messages.c.message_id, messages.c.hang_waited_ms)
        .where(
            messages.c.call_pk == hangs.c.call_pk,
            messages.c.hang_reply_to == hangs.c.pending_message_id,
        )
        .order_by(messages.c.ts, messages.c.seq)
        .limit(1)
    )
    first_id = late.with_only_columns(messages.c.message_id).scalar_subquery()
    first_ms = late.with_only_columns(messages.c.hang_waited_ms).scalar_subquery()
    return (
        update(hangs)
        .where(
            hangs.c.call_pk == bindparam("k_call_pk"),
            hangs.c.recovered_message_id.is_(None),
            hangs.c.pending_message_id.is_not(None),
        )
        .values(recovered_message_id=first_id, recovered_ms=first_ms)
    )


_LINK = _link_statement()


def _counted(
    conn: Connection, postgres: bool, table: Table, rows: list[Params], keys: list[str]
) -> dict[int, int]:
    counts: dict[int, int] = {}
    if rows:
        stmt = _insert(postgres, table).on_conflict_do_nothing(index_elements=keys)
        for (pk,) in conn.execute(stmt.returning(table.c.call_pk), rows):
            counts[pk] = counts.get(pk, 0) + 1
    return counts


def _str(value: object) -> str | None:
    return value.replace("\x00", "") if isinstance(value, str) else None


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if abs(value) < 2**62 else None
