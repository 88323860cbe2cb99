"""Database URLs and engines for the outbox: SQLite (WAL, fsync on commit) or PostgreSQL."""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from callhook._exceptions import DeliveryError

__all__ = ["DEFAULT_DB_URL", "make_engine", "safe_db_url"]

#: The receiver's embedded default, shared so that one file holds everything.
DEFAULT_DB_URL = "sqlite:///callhook.sqlite3"


def safe_db_url(url: str) -> str:
    """``url`` with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url``: ``sqlite:///file`` or ``postgresql://...`` (psycopg 3)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DeliveryError(
            "Cannot parse the database URL; use sqlite:///path/to/file.sqlite3 or "
            "postgresql://user@host:5432/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return sa.create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True)
    if backend != "sqlite":
        raise DeliveryError(
            f"Unsupported database {backend!r} in {safe_db_url(url)}: use sqlite:///file or "
            "postgresql://..."
        )
    if parsed.database in (None, "", ":memory:"):
        raise DeliveryError(
            "An in-memory SQLite database is not durable; give a file: sqlite:///callhook.sqlite3"
        )
    engine = sa.create_engine(
        parsed.set(drivername="sqlite"), connect_args={"check_same_thread": False, "timeout": 30}
    )
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
