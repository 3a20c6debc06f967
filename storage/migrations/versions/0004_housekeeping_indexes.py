"""housekeeping indexes: expired drafts by state and age, old deletion markers by age

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 12:43:10.053382
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_deleted_objects_deleted_at", "deleted_objects", ["deleted_at"], unique=False)
    op.create_index("ix_media_state_created_at", "media", ["state", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_media_state_created_at", table_name="media")
    op.drop_index("ix_deleted_objects_deleted_at", table_name="deleted_objects")
