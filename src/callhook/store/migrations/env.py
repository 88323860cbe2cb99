"""Alembic environment of callhook's store: runs on the connection ``upgrade`` hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from callhook.store._schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through `callhook db upgrade` (callhook.store.upgrade)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
