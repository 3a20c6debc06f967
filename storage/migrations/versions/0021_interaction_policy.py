"""interaction policies: a remote post's GoToSocial ``interactionPolicy``, and the approval state of our
replies, likes and boosts that wait for one (decision 0063)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import JsonDocument

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPROVAL_TABLES = ("posts", "likes", "announces")


def upgrade() -> None:
    op.add_column("posts", sa.Column("interaction_policy", JsonDocument, nullable=True))
    for table in _APPROVAL_TABLES:
        op.add_column(table, sa.Column("approval", sa.String(length=16), nullable=True))
        op.add_column(table, sa.Column("approved_by", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMNs (SQLite 3.35+), which keep the triggers on these tables.
    for table in _APPROVAL_TABLES:
        op.drop_column(table, "approved_by")
        op.drop_column(table, "approval")
    op.drop_column("posts", "interaction_policy")
