"""counters as columns: an actor's posts, followers and following, a post's likes, boosts and replies,
kept by triggers in the transaction that changes what they count (decision 0052)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 07:10:00.000000

The triggers are the rule, for every writer (the web app, the inbox worker, housekeeping, a future bulk
path): a counted row inserted adds one, deleted takes one away, updated moves its one from the old target
to the new. A decrement never goes below zero. ``storage.counters`` recounts from the rows (the check).
The filling below is written out here, not imported, so that this migration stays what it was.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR_COUNTERS = ("posts_count", "followers_count", "following_count")
POST_COUNTERS = ("likes_count", "boosts_count", "replies_count")

LISTED = "('public', 'unlisted')"

# What each counted row adds, as (condition on the row, or "" for always; target table, target id, column).
# ``{r}`` is the row (NEW or OLD).
CONTRIBUTIONS: dict[str, list[tuple[str, str, str, str]]] = {
    "likes": [("", "posts", "{r}.post_id", "likes_count")],
    "announces": [("", "posts", "{r}.post_id", "boosts_count")],
    "follows": [
        ("{r}.state = 'accepted'", "actors", "{r}.followee_id", "followers_count"),
        ("{r}.state = 'accepted'", "actors", "{r}.follower_id", "following_count"),
    ],
    "posts": [
        ("{r}.deleted_at IS NULL AND {r}.visibility IN " + LISTED, "actors", "{r}.author_id", "posts_count"),
        ("{r}.deleted_at IS NULL AND {r}.in_reply_to_id IS NOT NULL", "posts", "{r}.in_reply_to_id", "replies_count"),
    ],
}
#: The columns whose change can move a row's contribution (an UPDATE of anything else fires nothing).
WATCHED = {
    "likes": ("post_id",),
    "announces": ("post_id",),
    "follows": ("state", "follower_id", "followee_id"),
    "posts": ("deleted_at", "visibility", "author_id", "in_reply_to_id"),
}


def _statements(table: str, row: str, sign: int, *, greatest: str) -> list[tuple[str, str]]:
    """(condition, UPDATE) pairs that add (``sign`` 1) or take away (-1) ``row``'s contributions."""
    out = []
    for condition, target, target_id, column in CONTRIBUTIONS[table]:
        change = f"{column} + 1" if sign > 0 else f"{greatest}({column} - 1, 0)"
        update = f"UPDATE {target} SET {column} = {change} WHERE id = {target_id.format(r=row)}"
        out.append((condition.format(r=row), update))
    return out


def _sqlite_body(table: str, parts: tuple[tuple[str, int], ...]) -> str:
    return " ".join(
        f"{update} AND ({condition});" if condition else f"{update};"
        for row, sign in parts
        for condition, update in _statements(table, row, sign, greatest="MAX")
    )


def _sqlite_triggers() -> list[str]:
    sql = []
    for table, watched in WATCHED.items():
        for event, parts in (("INSERT", (("NEW", 1),)), ("DELETE", (("OLD", -1),))):
            body = _sqlite_body(table, parts)
            sql.append(f"CREATE TRIGGER count_{table}_{event.lower()} AFTER {event} ON {table} BEGIN {body} END")
        changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in watched)
        body = _sqlite_body(table, (("OLD", -1), ("NEW", 1)))
        sql.append(
            f"CREATE TRIGGER count_{table}_update AFTER UPDATE OF {', '.join(watched)} ON {table} "
            f"WHEN {changed} BEGIN {body} END"
        )
    return sql


def _plpgsql_block(table: str, row: str, sign: int) -> str:
    return " ".join(
        f"IF {condition} THEN {update}; END IF;" if condition else f"{update};"
        for condition, update in _statements(table, row, sign, greatest="GREATEST")
    )


def _postgres_triggers() -> list[str]:
    sql = []
    for table, watched in WATCHED.items():
        sql.append(
            f"CREATE FUNCTION count_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {_plpgsql_block(table, 'OLD', -1)} END IF; "
            f"IF TG_OP IN ('UPDATE', 'INSERT') THEN {_plpgsql_block(table, 'NEW', 1)} END IF; "
            "RETURN NULL; END $$"
        )
        sql.append(
            f"CREATE TRIGGER count_{table}_insert_delete AFTER INSERT OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION count_{table}()"
        )
        changed = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in watched)
        sql.append(
            f"CREATE TRIGGER count_{table}_update AFTER UPDATE OF {', '.join(watched)} ON {table} "
            f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION count_{table}()"
        )
    return sql


#: Filling the columns from the rows that exist (each UPDATE touches only rows with something to count).
FILL = [
    "UPDATE posts SET likes_count = (SELECT count(*) FROM likes WHERE likes.post_id = posts.id) "
    "WHERE id IN (SELECT post_id FROM likes)",
    "UPDATE posts SET boosts_count = (SELECT count(*) FROM announces WHERE announces.post_id = posts.id) "
    "WHERE id IN (SELECT post_id FROM announces)",
    "UPDATE posts SET replies_count = (SELECT count(*) FROM posts AS reply "
    "WHERE reply.in_reply_to_id = posts.id AND reply.deleted_at IS NULL) "
    "WHERE id IN (SELECT in_reply_to_id FROM posts WHERE in_reply_to_id IS NOT NULL AND deleted_at IS NULL)",
    "UPDATE actors SET posts_count = (SELECT count(*) FROM posts WHERE posts.author_id = actors.id "
    f"AND posts.deleted_at IS NULL AND posts.visibility IN {LISTED}) "
    f"WHERE id IN (SELECT author_id FROM posts WHERE deleted_at IS NULL AND visibility IN {LISTED})",
    "UPDATE actors SET followers_count = (SELECT count(*) FROM follows WHERE follows.followee_id = actors.id "
    "AND follows.state = 'accepted') WHERE id IN (SELECT followee_id FROM follows WHERE state = 'accepted')",
    "UPDATE actors SET following_count = (SELECT count(*) FROM follows WHERE follows.follower_id = actors.id "
    "AND follows.state = 'accepted') WHERE id IN (SELECT follower_id FROM follows WHERE state = 'accepted')",
]


def upgrade() -> None:
    for table, columns in (("actors", ACTOR_COUNTERS), ("posts", POST_COUNTERS)):
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.add_column(sa.Column(column, sa.Integer(), nullable=False, server_default="0"))
    for statement in FILL:
        op.execute(statement)
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _postgres_triggers() if postgres else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in WATCHED:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS count_{table}_insert_delete ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS count_{table}_update ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS count_{table}()")
        else:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS count_{table}_{event}")
    for table, columns in (("actors", ACTOR_COUNTERS), ("posts", POST_COUNTERS)):
        with op.batch_alter_table(table) as batch:
            for column in reversed(columns):
                batch.drop_column(column)
