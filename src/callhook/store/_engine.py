"""Database URLs and engines: SQLite (WAL, fsync on commit) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from callhook._exceptions import StorageError

__all__ = ["DEFAULT_URL", "make_engine", "normalize_url", "write_transaction"]

logger = logging.getLogger("callhook.store")

#: The embedded default: a SQLite file in the working directory.
DEFAULT_URL = "sqlite:///callhook.sqlite3"


def normalize_url(url: str) -> URL:
    """Parse a database URL; ``postgresql://`` means psycopg 3, ``sqlite:///path`` a file."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError, ValueError... for bad URLs
        raise StorageError(
            f"Cannot parse the database URL ({exc}); use sqlite:///path/to/file.sqlite3 or "
            "postgresql://user@host:5432/dbname",
            url=_safe(url),
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise StorageError(
                "An in-memory SQLite database is not durable and is not shared between "
                "connections; give a file: sqlite:///callhook.sqlite3",
                url=_safe(url),
            )
        return parsed.set(drivername="sqlite")
    raise StorageError(
        f"Unsupported database {backend!r}: use sqlite:///file or postgresql://...",
        url=_safe(url),
    )


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for ``url`` with callhook's connection settings applied."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=pool_size,
            hide_parameters=True,  # errors are logged: never with the rows' data
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # Let SQLAlchemy emit BEGIN itself so that transactions start when we say.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        hide_parameters=True,  # errors are logged: never with the rows' data
    )


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write. On SQLite it takes the write lock first (``BEGIN
    IMMEDIATE``), so that concurrent writers wait for each other (``busy_timeout``) instead
    of one failing, or retrying forever, on a read-to-write lock upgrade."""
    with engine.connect() as connection:
        connection.info["callhook_writer"] = True
        try:
            with connection.begin():
                yield connection
        finally:
            connection.info.pop("callhook_writer", None)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Any: SQLAlchemy's event passes the DBAPI connection (sqlite3) and a pool record untyped.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    _set_wal(cursor)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _set_wal(cursor: Any) -> None:  # Any: a sqlite3 cursor
    """``journal_mode=WAL``. Turning a new database to WAL needs it alone for a moment, and
    SQLite answers "database is locked" at once (without its busy wait) while another
    connection holds it, as when several processes open a new database together: try again
    for up to the busy timeout."""
    deadline = time.monotonic() + 30.0
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_begin(connection: Any) -> None:
    # Any: the "begin" event passes a Connection untyped. IMMEDIATE takes the write lock first.
    connection.exec_driver_sql("BEGIN IMMEDIATE" if _writing(connection) else "BEGIN")


def _writing(connection: Any) -> bool:  # Any: as above
    return bool(connection.info.get("callhook_writer"))


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show nothing that could hold a password
        return "<unparsable URL>"
