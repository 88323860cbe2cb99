"""Hot-path statements, compiled once per dialect and run through the driver's executemany.

SQLAlchemy Core builds them (so SQLite and PostgreSQL get their own parameter styles and
quoting); compiling once and calling ``exec_driver_sql`` skips per-row parameter processing,
which dominates the cost of small rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Dialect,
    Integer,
    Table,
    bindparam,
    insert,
    literal_column,
    update,
)
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

__all__ = ["Params", "Prepared", "prepared_insert", "prepared_update"]

#: One row of bind parameters (Any: column values of mixed SQL types).
Params = dict[str, Any]


class Prepared:
    """A statement compiled for one dialect; ``run`` executes it for many rows."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = str(compiled)
        self._order: list[str] | None = (
            list(compiled.positiontup or ()) if compiled.positional else None
        )

    def run(self, connection: Connection, rows: Sequence[Params]) -> None:
        if not rows:
            return
        params: Any  # tuples for positional drivers (sqlite3), mappings for named (psycopg)
        if self._order is not None:
            order = self._order
            params = [tuple(row[name] for name in order) for row in rows]
        else:
            params = list(rows)
        connection.exec_driver_sql(self.sql, params)


def prepared_insert(table: Table, dialect: Dialect, columns: Sequence[str]) -> Prepared:
    """``INSERT INTO table (columns) VALUES (:column, ...)``."""
    return Prepared(insert(table).values({c: bindparam(c) for c in columns}), dialect)


def prepared_update(
    table: Table, dialect: Dialect, key: Sequence[str], columns: Sequence[str], increment: str = ""
) -> Prepared:
    """``UPDATE table SET column = :column ... WHERE key = :k_key``; ``increment`` adds one."""
    values: dict[str, Any] = {c: bindparam(c) for c in columns}  # Any: bind or expression
    if increment:
        values[increment] = table.c[increment] + literal_column("1", Integer)
    statement = update(table).values(values)
    for name in key:
        statement = statement.where(table.c[name] == bindparam(f"k_{name}"))
    return Prepared(statement, dialect)
