"""media key indexes: who may fetch a file is decided by the rows that use it (decision 0047)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 18:50:59.074105
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_media_display_key", "media", ["display_key"], unique=False)
    op.create_index("ix_media_original_key", "media", ["original_key"], unique=False)
    op.create_index("ix_media_thumbnail_key", "media", ["thumbnail_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_media_thumbnail_key", table_name="media")
    op.drop_index("ix_media_original_key", table_name="media")
    op.drop_index("ix_media_display_key", table_name="media")
