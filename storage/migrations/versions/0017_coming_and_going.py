"""coming and going: account jobs (CSV imports, archives, account deletions) and their import rows, deleted
accounts, a follower's boosts/notify/languages choices (decision 0060)

Revision ID: 0017
Revises: 0009
Create Date: 2026-12-03 10:32:17.828133
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import BigIntId, JsonDocument, UTCDateTime

revision: str = "0017"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_jobs",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("account_id", BigIntId, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("import_type", sa.String(length=32), nullable=True),
        sa.Column("overwrite", sa.Boolean(), nullable=False),
        sa.Column("prepared", sa.Boolean(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("total_items", sa.Integer(), nullable=False),
        sa.Column("processed_items", sa.Integer(), nullable=False),
        sa.Column("imported_items", sa.Integer(), nullable=False),
        sa.Column("skipped_items", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("account_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_account_jobs_account_id_id", ["account_id", "id"], unique=False)
        batch_op.create_index("ix_account_jobs_due", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "import_rows",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("job_id", BigIntId, nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("data", JsonDocument, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["account_jobs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("import_rows", schema=None) as batch_op:
        batch_op.create_index("ix_import_rows_job_id_state_id", ["job_id", "state", "id"], unique=False)

    # Plain ALTER TABLE ADD COLUMN (SQLite has it for these): a batch would copy ``follows`` into a new table
    # and lose its counting triggers (migration 0007).
    op.add_column("accounts", sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("follows", sa.Column("show_boosts", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column("follows", sa.Column("notify", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("follows", sa.Column("languages", JsonDocument, nullable=True))


def downgrade() -> None:
    for column in ("languages", "notify", "show_boosts"):  # ALTER TABLE DROP COLUMN (SQLite 3.35+): triggers stay
        op.drop_column("follows", column)
    op.drop_column("accounts", "deleted_at")

    with op.batch_alter_table("import_rows", schema=None) as batch_op:
        batch_op.drop_index("ix_import_rows_job_id_state_id")
    op.drop_table("import_rows")

    with op.batch_alter_table("account_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_account_jobs_due")
        batch_op.drop_index("ix_account_jobs_account_id_id")
    op.drop_table("account_jobs")
