"""The outbox tables, in SQLAlchemy Core, on their own ``MetaData``.

Created by the store's Alembic revisions ``0002_delivery``, ``0005_delivery_text_keys`` and
``0006_delivery_views`` (``callhook db upgrade``, or ``create_outbox_tables``); keep the two
in step when a table changes (a new revision).
Times are unix seconds (float, UTC) so that comparisons are the same on SQLite and PostgreSQL.

- ``callhook_delivery_outbox``: one row per (event, endpoint) accepted for delivery, with the
  request body as sent, the endpoint configuration it was accepted with, and its state
  (``pending`` → ``delivered`` | ``dead``). ``sequence`` numbers the events of a call (1, 2,
  3, ... across endpoints); per-call order key: (``call_id``, ``url``, ``sequence``).
  ``is_head`` marks the first pending row of each key, the only one claimable, so that
  claiming reads only ready rows (an index) however long the backlog.
- ``callhook_delivery_attempts``: one row per HTTP attempt (status, latency, error).
- ``callhook_delivery_endpoints``: endpoints disabled by a 410 response.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "ATTEMPTS",
    "ENDPOINTS",
    "METADATA",
    "OUTBOX",
    "create_outbox_tables",
    "drop_outbox_tables",
]

METADATA = sa.MetaData()

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite rowid alias autoincrements

OUTBOX = sa.Table(
    "callhook_delivery_outbox",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.String(64), nullable=False, unique=True),
    sa.Column("call_id", sa.Text(), nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("url", sa.Text(), nullable=False),
    #: per call: 1, 2, 3, ... in the order its events were accepted (whatever their URL)
    sa.Column("sequence", sa.Integer(), nullable=False),
    sa.Column("body", sa.LargeBinary(), nullable=False),
    #: the checked ServerConfig as JSON (holds the endpoint's secrets; never logged)
    sa.Column("config", sa.LargeBinary(), nullable=False),
    #: pending | delivered | dead
    sa.Column("status", sa.String(16), nullable=False),
    #: the first pending row of its (call_id, url): the only one that may be attempted
    sa.Column("is_head", sa.Boolean(create_constraint=False), nullable=False, default=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    #: attempts and start of the current retry window (reset by a replay)
    sa.Column("window_attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("window_start", sa.Double(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("next_attempt_at", sa.Double(), nullable=False),
    #: a worker holds the row while it is in flight; expired leases are claimed again
    sa.Column("lease_until", sa.Double(), nullable=True),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("finished_at", sa.Double(), nullable=True),
    sa.Column("last_status_code", sa.Integer(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Index("ix_callhook_delivery_outbox_order", "call_id", "url", "status", "sequence"),
    sa.Index("ix_callhook_delivery_outbox_status", "status", "next_attempt_at"),
    # claims read only head rows (a plain index: bound parameters cannot match partial ones)
    sa.Index("ix_callhook_delivery_outbox_ready", "is_head", "status", "next_attempt_at"),
    # counts by target and state, oldest pending (the API, the dashboard, /metrics)
    sa.Index("ix_callhook_delivery_outbox_state", "status", "url", "attempts", "created_at"),
)

ATTEMPTS = sa.Table(
    "callhook_delivery_attempts",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column(
        "outbox_id",
        _ID,
        sa.ForeignKey("callhook_delivery_outbox.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("url", sa.Text(), nullable=False),
    sa.Column("started_at", sa.Double(), nullable=False),
    sa.Column("latency_ms", sa.Double(), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),
    #: delivered | retry | give-up | disable
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Index("ix_callhook_delivery_attempts_outbox", "outbox_id", "attempt"),
    sa.Index("ix_callhook_delivery_attempts_started", "started_at"),
)

ENDPOINTS = sa.Table(
    "callhook_delivery_endpoints",
    METADATA,
    sa.Column("url", sa.Text(), primary_key=True),
    sa.Column("disabled_at", sa.Double(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
)


def create_outbox_tables(engine: sa.Engine) -> None:
    """Bring the database up to date: the store's migrations create these tables (revision
    ``0002_delivery``) beside the receiver's. Idempotent."""
    from callhook.store import upgrade  # the store owns the schema and its migrations

    upgrade(engine)


def drop_outbox_tables(engine: sa.Engine) -> None:
    """Drop the delivery tables (tests and tear-down)."""
    METADATA.drop_all(engine, checkfirst=True)
