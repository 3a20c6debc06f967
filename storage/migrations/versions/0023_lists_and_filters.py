"""lists and filters: an account's lists of followed accounts, its custom filters (keywords and chosen posts),
and an ``Idempotency-Key`` claimed in the post's own transaction

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 13:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.types

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "account_lists",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("replies_policy", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_account_lists_account_id", "account_lists", ["account_id"], unique=False)
    op.create_table(
        "list_members",
        sa.Column("list_id", _ID, nullable=False),
        sa.Column("actor_id", _ID, nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(["list_id"], ["account_lists.id"]),
        sa.ForeignKeyConstraint(["actor_id"], ["actors.id"]),
        sa.PrimaryKeyConstraint("list_id", "actor_id"),
    )
    op.create_index("ix_list_members_actor_id", "list_members", ["actor_id"], unique=False)
    op.create_table(
        "custom_filters",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("context", storage.types.JsonDocument, nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        _when("expires_at", nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_custom_filters_account_id", "custom_filters", ["account_id"], unique=False)
    op.create_table(
        "filter_keywords",
        sa.Column("id", _ID, nullable=False),
        sa.Column("filter_id", _ID, nullable=False),
        sa.Column("keyword", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("whole_word", sa.Boolean(), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(["filter_id"], ["custom_filters.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_filter_keywords_filter_id", "filter_keywords", ["filter_id"], unique=False)
    op.create_table(
        "filter_statuses",
        sa.Column("id", _ID, nullable=False),
        sa.Column("filter_id", _ID, nullable=False),
        sa.Column("post_id", _ID, nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(["filter_id"], ["custom_filters.id"]),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("filter_id", "post_id"),
    )
    op.create_index("ix_filter_statuses_filter_id", "filter_statuses", ["filter_id"], unique=False)
    op.create_index("ix_filter_statuses_post_id", "filter_statuses", ["post_id"], unique=False)


def downgrade() -> None:
    for table in ("filter_statuses", "filter_keywords", "custom_filters", "list_members", "account_lists"):
        op.drop_table(table)
