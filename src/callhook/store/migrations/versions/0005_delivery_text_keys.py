"""delivery: call ids and endpoint URLs of any length (Text)

The receiver accepts call ids of any length; ``String(255)`` made PostgreSQL refuse a whole
batch of accepted events when one call id was longer. Endpoint URLs likewise.

Revision ID: 0005_delivery_text_keys
Revises: 0004_governance
Create Date: 2026-12-02 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_delivery_text_keys"
down_revision = "0004_governance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callhook_delivery_outbox") as batch:
        batch.alter_column(
            "call_id", existing_type=sa.String(length=255), type_=sa.Text(), existing_nullable=False
        )
    with op.batch_alter_table("callhook_delivery_endpoints") as batch:
        batch.alter_column(
            "url", existing_type=sa.String(length=2048), type_=sa.Text(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("callhook_delivery_endpoints") as batch:
        batch.alter_column(
            "url", existing_type=sa.Text(), type_=sa.String(length=2048), existing_nullable=False
        )
    with op.batch_alter_table("callhook_delivery_outbox") as batch:
        batch.alter_column(
            "call_id", existing_type=sa.Text(), type_=sa.String(length=255), existing_nullable=False
        )
