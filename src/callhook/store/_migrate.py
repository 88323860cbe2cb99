"""Schema migrations (Alembic), applied by ``callhook serve`` on start and ``callhook db upgrade``.

The revisions live in ``callhook/store/migrations/versions``. A module that adds its own tables
(the delivery outbox) defines them on ``callhook.store.metadata`` and adds a revision there whose
``down_revision`` is the current head, so one upgrade brings every table up to date.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from callhook._exceptions import StorageError
from callhook.store._engine import make_engine, write_transaction

__all__ = ["alembic_config", "head_revision", "upgrade"]

logger = logging.getLogger("callhook.store")

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The PostgreSQL advisory lock that serializes migrations (any constant of our own).
_LOCK_KEY = 0x63616C6C686F6F6B  # "callhook"


def alembic_config() -> Config:
    """An Alembic configuration pointing at callhook's revisions (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def upgrade(target: str | Engine, revision: str = "heads") -> None:
    """Bring the database at ``target`` (a URL or an engine) up to ``revision``."""
    engine = make_engine(target) if isinstance(target, str) else target
    try:
        # Several processes may start on one empty database at once (receivers behind a load
        # balancer): one migrates, the others wait for it and then find the schema at head.
        # SQLite: the write lock is taken first (BEGIN IMMEDIATE); PostgreSQL: an advisory
        # lock held until this transaction ends.
        with write_transaction(engine) as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        url = engine.url.render_as_string(hide_password=True)
        raise StorageError(
            f"Cannot migrate the database: {exc.__class__.__name__}: {exc}", url=url
        ) from exc
    finally:
        if isinstance(target, str):
            engine.dispose()
    logger.info("store.migrated %s", revision)
