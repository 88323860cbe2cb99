"""delivery outbox tables (callhook.delivery)

Revision ID: 0002_delivery
Revises: 0001_receiver
Create Date: 2026-11-22 04:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_delivery"
down_revision = "0001_receiver"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callhook_delivery_endpoints",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("disabled_at", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("url"),
    )
    op.create_table(
        "callhook_delivery_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("webhook_id", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("config", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_head", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("window_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("window_start", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("next_attempt_at", sa.Double(), nullable=False),
        sa.Column("lease_until", sa.Double(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("webhook_id"),
    )
    op.create_index(
        "ix_callhook_delivery_outbox_order",
        "callhook_delivery_outbox",
        ["call_id", "url", "status", "sequence"],
        unique=False,
    )
    op.create_index(
        "ix_callhook_delivery_outbox_ready",
        "callhook_delivery_outbox",
        ["is_head", "status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_callhook_delivery_outbox_status",
        "callhook_delivery_outbox",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "callhook_delivery_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "outbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["outbox_id"], ["callhook_delivery_outbox.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_callhook_delivery_attempts_outbox",
        "callhook_delivery_attempts",
        ["outbox_id", "attempt"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_callhook_delivery_attempts_outbox", table_name="callhook_delivery_attempts")
    op.drop_table("callhook_delivery_attempts")
    op.drop_index("ix_callhook_delivery_outbox_status", table_name="callhook_delivery_outbox")
    op.drop_index("ix_callhook_delivery_outbox_ready", table_name="callhook_delivery_outbox")
    op.drop_index("ix_callhook_delivery_outbox_order", table_name="callhook_delivery_outbox")
    op.drop_table("callhook_delivery_outbox")
    op.drop_table("callhook_delivery_endpoints")
