"""monitor tables: alert history, hang impacts, sentiment scores

Revision ID: 0003_monitor
Revises: 0002_delivery
Create Date: 2026-11-22 03:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_monitor"
down_revision = "0002_delivery"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "monitor_alerts",
        sa.Column("pk", _ID, autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("fired_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("call_id", sa.String(), nullable=True),
        sa.Column("assistant_id", sa.String(), nullable=True),
        sa.Column("provider", sa.String(), nullable=True),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_monitor_alerts")),
        sa.UniqueConstraint("alert_id", name=op.f("uq_monitor_alerts_alert_id")),
    )
    op.create_index(
        op.f("ix_monitor_alerts_fired_at_pk"), "monitor_alerts", ["fired_at", "pk"], unique=False
    )
    op.create_index(
        op.f("ix_monitor_alerts_state_fired_at"),
        "monitor_alerts",
        ["state", "fired_at"],
        unique=False,
    )
    op.create_table(
        "monitor_sentiment",
        sa.Column("pk", _ID, autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=True),
        sa.Column("compound", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_monitor_sentiment")),
        sa.UniqueConstraint(
            "call_id", "message_id", name=op.f("uq_monitor_sentiment_call_id_message_id")
        ),
    )
    op.create_table(
        "monitor_hang_impacts",
        sa.Column("pk", _ID, autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(), nullable=False),
        sa.Column("pending_message_id", sa.String(), nullable=False),
        sa.Column("hang_at", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("response_message_id", sa.String(), nullable=True),
        sa.Column("waited_ms", sa.Float(), nullable=True),
        sa.Column("repeated", sa.Boolean(), nullable=False),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_monitor_hang_impacts")),
        sa.UniqueConstraint(
            "call_id",
            "pending_message_id",
            name=op.f("uq_monitor_hang_impacts_call_id_pending_message_id"),
        ),
    )
    op.create_index(
        op.f("ix_monitor_hang_impacts_hang_at_pk"),
        "monitor_hang_impacts",
        ["hang_at", "pk"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_monitor_hang_impacts_hang_at_pk"), table_name="monitor_hang_impacts")
    op.drop_table("monitor_hang_impacts")
    op.drop_table("monitor_sentiment")
    op.drop_index(op.f("ix_monitor_alerts_state_fired_at"), table_name="monitor_alerts")
    op.drop_index(op.f("ix_monitor_alerts_fired_at_pk"), table_name="monitor_alerts")
    op.drop_table("monitor_alerts")
