"""The databases the store and receiver tests run on: SQLite always, PostgreSQL when
``CALLHOOK_TEST_POSTGRES_URL`` is set (each test gets a schema of its own, dropped after)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_ENV = "CALLHOOK_TEST_POSTGRES_URL"
SKIP_REASON = (
    f"PostgreSQL tests need {POSTGRES_ENV}, e.g. postgresql://postgres@127.0.0.1:5432/test "
    "(.ci/run sets it)"
)


def postgres_base() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'callhook-test.sqlite3'}"


def postgres_schema_url(base: str, schema: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


def database_url(kind: str, folder: Path) -> Iterator[str]:
    """Yield a fresh, empty database URL of ``kind`` (``sqlite`` or ``postgresql``)."""
    if kind == "sqlite":
        yield sqlite_url(folder)
        return
    base = postgres_base()
    if base is None:
        pytest.skip(SKIP_REASON)
    import psycopg

    schema = f"callhook_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield postgres_schema_url(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
