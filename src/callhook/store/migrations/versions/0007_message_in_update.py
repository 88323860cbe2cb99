"""receiver: ``messages.in_update``, whether a conversation-update has carried the message yet

A message that first comes in a hang, an error or the end-of-call report is stored with
``in_update`` false; the first conversation-update that carries it sets it. The relay's
``messages = "new"`` targets get it then, so that their conversation-updates rebuild the whole
conversation. Rows stored before this revision count as carried.

Revision ID: 0007_message_in_update
Revises: 0006_delivery_views
Create Date: 2026-12-02 12:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_message_in_update"
down_revision = "0006_delivery_views"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("in_update", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("in_update")
