"""The shared rate-limit bucket of each provider, as GCRA state (sync.sharedlimit).

``carrier_state.tokens`` / ``refilled_at`` were placeholders for a token bucket
that was never written; the limiter that shares a provider's rate across
workers keeps two instants instead: ``next_slot_at`` (GCRA's "theoretical
arrival time": the first free request slot) and ``paused_until`` (a
``Retry-After`` one worker was told, honoured by all). Both are wall-clock
times from the database server's clock.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 14:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table to drop columns (carrier_state has no triggers).
    with op.batch_alter_table("carrier_state") as batch:
        batch.add_column(sa.Column("next_slot_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("paused_until", UTCDateTime(), nullable=True))
        batch.drop_column("tokens")
        batch.drop_column("refilled_at")


def downgrade() -> None:
    with op.batch_alter_table("carrier_state") as batch:
        batch.add_column(sa.Column("tokens", sa.Float(), server_default="0.0", nullable=False))
        batch.add_column(sa.Column("refilled_at", UTCDateTime(), nullable=True))
        batch.drop_column("paused_until")
        batch.drop_column("next_slot_at")
