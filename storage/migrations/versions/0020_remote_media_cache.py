"""remote media cache: remote files fetched into the media store, pruned and fetched again on demand; remote
actors' avatars and headers as media rows; remote custom emoji (decision 0059)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 10:25:44.100598
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.types

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "media_fetches",
        sa.Column("id", _ID, nullable=False),
        sa.Column("media_id", _ID, nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("media_id"),
    )
    op.create_index("ix_media_fetches_due", "media_fetches", ["state", "next_attempt_at"], unique=False)
    # Plain ADD COLUMNs (no batch copy of the tables): ``actors`` carries the counters' triggers (0007).
    op.add_column("actors", sa.Column("avatar_media_id", _ID, nullable=True))
    op.add_column("actors", sa.Column("header_media_id", _ID, nullable=True))
    op.create_index("ix_actors_avatar_media_id", "actors", ["avatar_media_id"], unique=False)
    op.create_index("ix_actors_header_media_id", "actors", ["header_media_id"], unique=False)
    op.add_column("media", sa.Column("cached_at", storage.types.UTCDateTime(timezone=True), nullable=True))
    op.add_column("media", sa.Column("fetch_error", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.create_index("ix_media_state_cached_at", "media", ["state", "cached_at"], unique=False)
    op.create_table(
        "custom_emojis",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shortcode", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("domain", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("ap_id", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
        sa.Column("media_id", _ID, nullable=False),
        sa.Column("image_url", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shortcode", "domain", name="uq_custom_emojis_shortcode_domain"),
    )
    op.create_index("ix_custom_emojis_media_id", "custom_emojis", ["media_id"], unique=False)
    op.add_column("actors", sa.Column("emojis", storage.types.JsonDocument, nullable=True))
    op.add_column("posts", sa.Column("emojis", storage.types.JsonDocument, nullable=True))
    _adopt_remote_actor_images()


def _adopt_remote_actor_images() -> None:
    """Give every remote actor's avatar and header URL a media row, so that pages show them from our origin
    (fetched on first view) instead of hotlinking them."""
    connection = op.get_bind()
    actors = sa.table(
        "actors",
        sa.column("id", _ID),
        sa.column("is_local", sa.Boolean),
        sa.column("icon_url", sa.String),
        sa.column("header_url", sa.String),
        sa.column("avatar_media_id", _ID),
        sa.column("header_media_id", _ID),
    )
    media = sa.table(
        "media",
        sa.column("id", _ID),
        sa.column("state", sa.String),
        sa.column("mime", sa.String),
        sa.column("remote_url", sa.String),
        sa.column("alt_text", sa.Text),
        sa.column("focal_x", sa.Float),
        sa.column("focal_y", sa.Float),
        sa.column("created_at", storage.types.UTCDateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    rows = connection.execute(
        sa.select(actors.c.id, actors.c.icon_url, actors.c.header_url).where(
            actors.c.is_local.is_(False), sa.or_(actors.c.icon_url.is_not(None), actors.c.header_url.is_not(None))
        )
    ).all()
    for actor_id, icon_url, header_url in rows:
        changes = {}
        for column, url in (("avatar_media_id", icon_url), ("header_media_id", header_url)):
            if url:
                changes[column] = connection.execute(
                    sa.insert(media)
                    .values(
                        state="remote",
                        mime="image/*",
                        remote_url=url,
                        alt_text="",
                        focal_x=0.0,
                        focal_y=0.0,
                        created_at=now,
                    )
                    .returning(media.c.id)
                ).scalar_one()
        connection.execute(sa.update(actors).where(actors.c.id == actor_id).values(**changes))


def downgrade() -> None:
    op.drop_index("ix_custom_emojis_media_id", table_name="custom_emojis")
    op.drop_table("custom_emojis")
    op.drop_index("ix_media_state_cached_at", table_name="media")
    op.drop_index("ix_actors_header_media_id", table_name="actors")
    op.drop_index("ix_actors_avatar_media_id", table_name="actors")
    # Plain DROP COLUMNs (SQLite 3.35+), which keep the triggers on ``actors`` and ``posts``.
    for table, column in (
        ("posts", "emojis"),
        ("actors", "emojis"),
        ("media", "fetch_error"),
        ("media", "cached_at"),
        ("actors", "header_media_id"),
        ("actors", "avatar_media_id"),
    ):
        op.drop_column(table, column)
    op.drop_index("ix_media_fetches_due", table_name="media_fetches")
    op.drop_table("media_fetches")
