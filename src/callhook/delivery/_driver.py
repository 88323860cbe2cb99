"""One database connection on its driver (sqlite3 or psycopg), for the outbox's hot statements.

SQLAlchemy builds, compiles and binds each statement in Python: about two thirds of the
outbox's CPU per delivery in a profile of ``bench/delivery.py`` (issue 14). The hot path
therefore sends fixed SQL text straight to the driver, which prepares it once (sqlite3's
statement cache; psycopg prepares a statement after a few executions) and runs batches with
``executemany``. SQLAlchemy keeps the schema, the migrations, replay and the admin queries.

``Connection`` holds one pooled connection of the engine for the life of its owner, and is
used from one thread at a time. Statements use ``?`` placeholders; on PostgreSQL they become
``%s`` and a list of values is one array parameter (``= ANY(%s)``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg
import sqlalchemy as sa

__all__ = ["Connection", "Cursor", "OutboxError", "Placeholders"]

#: An SQL value bound to a placeholder (str, int, float, bytes, bool, None, or a list of those).
Value = Any  # Any: whatever the driver adapts


class Cursor(Protocol):
    """What both drivers' cursors offer (the DB-API subset the outbox uses)."""

    rowcount: int

    def execute(self, sql: str, params: Sequence[Value] = ...) -> object: ...

    def executemany(self, sql: str, params: Sequence[Sequence[Value]]) -> object: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...  # Any: a row of driver values

    def fetchone(self) -> tuple[Any, ...] | None: ...  # Any: a row of driver values


class OutboxError(Exception):
    """A statement of the outbox failed: the driver's message, never the parameters (they
    hold bodies and secrets)."""


class Placeholders:
    """SQL text with ``?`` placeholders in the style of one driver (sqlite3 or psycopg)."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self._texts: dict[str, str] = {}

    def sql(self, text: str) -> str:
        """``text`` in the driver's placeholder style."""
        if not self.postgres:
            return text
        found = self._texts.get(text)
        if found is None:
            found = self._texts[text] = text.replace("?", "%s")
        return found

    def in_list(self, column: str, values: Sequence[Value]) -> tuple[str, list[Value]]:
        """``column`` is one of ``values``: SQL text and its parameters."""
        if self.postgres:
            return f"{column} = ANY(?)", [list(values)]
        return f"{column} IN ({','.join('?' * len(values))})", list(values)


class Connection(Placeholders):
    """A driver connection of ``engine``, taken from its pool when first used."""

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__(engine.dialect.name == "postgresql")
        self._engine = engine
        self._proxy: Any = None  # Any: SQLAlchemy's PoolProxiedConnection

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Cursor]:
        """A transaction on this connection; commits when the block ends, rolls back on an
        error (raised as ``OutboxError``). On SQLite a writing one takes the write lock first
        (``BEGIN IMMEDIATE``) so that it never fails upgrading a read lock."""
        if self._proxy is None:
            self._proxy = self._engine.raw_connection()
        driver = self._proxy.driver_connection
        try:
            cursor = driver.cursor()
            if not self.postgres:
                cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield cursor
            driver.commit() if self.postgres else cursor.execute("COMMIT")
        except (sqlite3.Error, psycopg.Error) as exc:
            self._abort(driver)
            raise OutboxError(f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            self._abort(driver)
            raise

    def _abort(self, driver: Any) -> None:  # Any: sqlite3 or psycopg connection
        try:
            if self.postgres:
                driver.rollback()
            elif driver.in_transaction:
                driver.execute("ROLLBACK")
        except (sqlite3.Error, psycopg.Error):
            self._proxy.invalidate()  # the connection is broken: take a new one next time
            self._proxy = None

    def close(self) -> None:
        """Give the connection back to the pool."""
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
