"""post changes for the streaming API: a post deleted or edited, a boost taken back, recorded by triggers
(decision 0057)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 09:00:00.000000

New posts, boosts and notifications are new rows, which the streaming API finds by id. What happens to a
row afterwards leaves no new row: a delete sets ``posts.deleted_at``, an edit moves ``posts.edited_at``
(for a remote post, to the time its server says, which may be long past), an undone boost deletes its
``announces`` row. These triggers write one ``post_changes`` row for each, in the transaction that makes
the change, whoever the writer is (the web app, the inbox worker, a purge).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import BigIntId, UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: A post's change worth telling: deleted now, or edited while not deleted. ``{differs}`` is the dialect's
#: null-safe "is distinct from".
_POST_CHANGED = (
    "(OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL) "
    "OR (NEW.deleted_at IS NULL AND OLD.edited_at {differs} NEW.edited_at)"
)
_POST_KIND = "CASE WHEN NEW.deleted_at IS NOT NULL THEN 'delete' ELSE 'edit' END"
_INSERT_POST = "INSERT INTO post_changes (kind, post_id, changed_at) VALUES ({kind}, NEW.id, {now})"
_INSERT_UNBOOST = (
    "INSERT INTO post_changes (kind, post_id, announce_id, actor_id, changed_at) "
    "VALUES ('unboost', OLD.post_id, OLD.id, OLD.actor_id, {now})"
)

SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
SQLITE_TRIGGERS = [
    "CREATE TRIGGER stream_posts_change AFTER UPDATE OF deleted_at, edited_at ON posts "
    f"WHEN {_POST_CHANGED.format(differs='IS NOT')} "
    f"BEGIN {_INSERT_POST.format(kind=_POST_KIND, now=SQLITE_NOW)}; END",
    f"CREATE TRIGGER stream_announces_delete AFTER DELETE ON announces "
    f"BEGIN {_INSERT_UNBOOST.format(now=SQLITE_NOW)}; END",
]

POSTGRES_TRIGGERS = [
    "CREATE FUNCTION stream_posts_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"{_INSERT_POST.format(kind=_POST_KIND, now='now()')}; RETURN NULL; END $$",
    "CREATE TRIGGER stream_posts_change AFTER UPDATE OF deleted_at, edited_at ON posts FOR EACH ROW "
    f"WHEN ({_POST_CHANGED.format(differs='IS DISTINCT FROM')}) EXECUTE FUNCTION stream_posts_change()",
    "CREATE FUNCTION stream_announces_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"{_INSERT_UNBOOST.format(now='now()')}; RETURN NULL; END $$",
    "CREATE TRIGGER stream_announces_delete AFTER DELETE ON announces FOR EACH ROW "
    "EXECUTE FUNCTION stream_announces_delete()",
]


def upgrade() -> None:
    op.create_table(
        "post_changes",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("announce_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("changed_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_post_changes_changed_at", "post_changes", ["changed_at"], unique=False)
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS stream_posts_change ON posts")
        op.execute("DROP TRIGGER IF EXISTS stream_announces_delete ON announces")
        op.execute("DROP FUNCTION IF EXISTS stream_posts_change()")
        op.execute("DROP FUNCTION IF EXISTS stream_announces_delete()")
    else:
        op.execute("DROP TRIGGER IF EXISTS stream_posts_change")
        op.execute("DROP TRIGGER IF EXISTS stream_announces_delete")
    op.drop_index("ix_post_changes_changed_at", table_name="post_changes")
    op.drop_table("post_changes")
