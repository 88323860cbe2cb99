"""The ingest path's hot statements, as SQL text run on the driver's own cursor.

Each group commit runs the same few statements (lock the batch's calls, insert messages and
arrivals, count re-deliveries, update the calls), most of them for many rows. Running them
on the DB-API cursor with positional tuples skips SQLAlchemy's per-statement and per-row
work (execution context, parameter processing), which otherwise costs more than the
database itself. ``sqlite3`` and psycopg both prepare and cache the statement; psycopg's
``executemany`` sends all rows in one pipeline. SQLAlchemy keeps the schema, the migrations,
the queries and the statements that few events need (``_statements.py``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

__all__ = [
    "ARRIVAL_COLUMNS",
    "DRIVER_ERRORS",
    "IN_CHUNK",
    "MESSAGE_COLUMNS",
    "HotSql",
    "Params",
    "Row",
    "cursor",
    "run_many",
]

#: What a refused statement raises, through SQLAlchemy or on the driver's cursor.
DRIVER_ERRORS = (SQLAlchemyError, sqlite3.Error, psycopg.Error)

#: One row of positional parameters (Any: column values of mixed SQL types).
Row = tuple[Any, ...]
#: One row of named parameters, for SQLAlchemy statements (Any: as above).
Params = dict[str, Any]

MESSAGE_COLUMNS = (
    "call_pk", "message_id", "position", "ts", "role", "body", "hang_reply_to", "hang_waited_ms",
    "in_update",
)  # fmt: skip
ARRIVAL_COLUMNS = (
    "call_pk", "digest", "type", "event_ts", "received_at", "last_received_at", "duplicates",
    "late", "new_messages", "message_count", "body", "assistant_digest",
)  # fmt: skip
#: The columns ``INSERT`` sets for a new call (the rest are NULL until its first update).
_CREATE_COLUMNS = (
    "call_id", "status_rank", "first_ts", "last_ts", "fields", "field_ts", "message_count",
    "hang_count", "error_count", "event_count", "duplicate_count", "version", "created_at",
    "updated_at",
)  # fmt: skip
#: Most ids in one ``IN (...)`` list.
IN_CHUNK = 500


class HotSql:
    """The hot statements for one dialect (``sqlite`` or ``postgresql``)."""

    def __init__(self, dialect: str, state_columns: Sequence[str]) -> None:
        self.postgres = dialect == "postgresql"
        p = self._p = "%s" if self.postgres else "?"
        self.insert_messages = _insert("messages", MESSAGE_COLUMNS, p)
        self.insert_arrivals = _insert("arrivals", ARRIVAL_COLUMNS, p)
        self.carry_messages = (
            f"UPDATE messages SET in_update = TRUE WHERE call_pk = {p} AND message_id = {p}"
        )
        self.count_duplicate = (
            f"UPDATE arrivals SET last_received_at = {p}, duplicates = duplicates + 1 "
            f"WHERE call_pk = {p} AND digest = {p}"
        )
        assignments = ", ".join(f"{c} = {p}" for c in state_columns)
        #: Parameters: the ``state_columns`` values, then the pk.
        self.update_calls = f"UPDATE calls SET {assignments} WHERE pk = {p}"
        self.create_call = (
            _insert("calls", _CREATE_COLUMNS, p) + " ON CONFLICT (call_id) DO NOTHING RETURNING pk"
        )
        self._versions: dict[int, str] = {}

    def versions(self, count: int) -> str:
        """``SELECT call_id, pk, version`` of ``count`` call ids, locked on PostgreSQL (in one
        order everywhere, so that processes locking the same calls do not deadlock)."""
        sql = self._versions.get(count)
        if sql is None:
            marks = ", ".join([self._p] * count)
            sql = f"SELECT call_id, pk, version FROM calls WHERE call_id IN ({marks})"
            if self.postgres:
                sql += " ORDER BY call_id FOR UPDATE"
            self._versions[count] = sql
        return sql

    @staticmethod
    def create_row(call_id: str, ts: int | None, received_at: int) -> Row:
        return (call_id, -1, ts, ts, "{}", "{}", 0, 0, 0, 0, 0, 0, received_at, received_at)


def cursor(connection: Connection) -> Any:  # Any: the driver's DB-API cursor
    """A cursor of the driver connection under ``connection`` (same transaction)."""
    return connection.connection.driver_connection.cursor()  # type: ignore[union-attr]


def run_many(connection: Connection, sql: str, rows: Sequence[Row]) -> None:
    """Execute ``sql`` once per row, in one driver call."""
    if rows:
        cur = cursor(connection)
        try:
            cur.executemany(sql, rows)
        finally:
            cur.close()


def _insert(table: str, columns: Sequence[str], p: str) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([p] * len(columns))})"
