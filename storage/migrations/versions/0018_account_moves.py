"""account moves: actors' aliases (alsoKnownAs), the account they moved to (movedTo) and when (decision 0061)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-10 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import JsonDocument, UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (nullable, no default): SQLite adds them without rebuilding the table.
    op.add_column("actors", sa.Column("also_known_as", JsonDocument, nullable=True))
    op.add_column("actors", sa.Column("moved_to_ap_id", sa.String(length=2048), nullable=True))
    op.add_column("actors", sa.Column("moved_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMNs (SQLite 3.35+): a batch rebuild of ``actors`` would trip the counter triggers
    # (migration 0007) that name it.
    op.drop_column("actors", "moved_at")
    op.drop_column("actors", "moved_to_ap_id")
    op.drop_column("actors", "also_known_as")
