"""pinned posts: when a local author pinned a post to their profile (the actor's ``featured`` collection)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 13:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy): ``posts`` carries the counters' triggers (0007) and 0019's.
    op.add_column("posts", sa.Column("pinned_at", storage.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("posts", "pinned_at")  # a plain DROP COLUMN (SQLite 3.35+) keeps the triggers
