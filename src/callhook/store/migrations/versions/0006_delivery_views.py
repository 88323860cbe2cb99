"""delivery: indexes for the query API, the dashboard and /metrics

``ix_callhook_delivery_outbox_state`` (status, url, attempts, created_at): counts by target of
pending and dead rows, and the oldest pending one, read from the index alone however many
delivered rows the outbox holds. ``ix_callhook_delivery_attempts_started`` (started_at): the
attempts of a time range, for success rate and latency over time.

Revision ID: 0006_delivery_views
Revises: 0005_delivery_text_keys
Create Date: 2026-12-02 12:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0006_delivery_views"
down_revision = "0005_delivery_text_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_callhook_delivery_outbox_state",
        "callhook_delivery_outbox",
        ["status", "url", "attempts", "created_at"],
    )
    op.create_index(
        "ix_callhook_delivery_attempts_started", "callhook_delivery_attempts", ["started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_callhook_delivery_attempts_started", "callhook_delivery_attempts")
    op.drop_index("ix_callhook_delivery_outbox_state", "callhook_delivery_outbox")
