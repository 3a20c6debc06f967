"""What counter columns save a page, and what keeping them costs a write (decision 0052).

    python bench/bench_counters.py [--database sqlite|postgres] [--followers 5000] [--likes 5000] [--seconds 2]

A fresh instance: one account with ``--followers`` accepted followers and 24 posts, the newest with
``--likes`` likes, a fifth as many boosts and a tenth as many replies (rows inserted in bulk; the triggers
count them). Then, through the app's own database layer (the same async engine and sessions pages use),
each case runs for ``--seconds``:

- baseline: a primary-key read of one actor (one query; the unit every other figure is divided by);
- before: the six ``COUNT(*)`` a profile page ran until now (posts, followers, following; likes, boosts and
  replies of its 24 cards);
- after: the same numbers read from the counter columns (two primary-key reads; the pages themselves read
  them from rows they load anyway, so they add no query at all);
- a like and its undo, one transaction each, with the counting triggers, then with them dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable

from harness import reverie_environment, scratch_instance
from sqlalchemy import delete, func, insert, select, text
from sqlmodel import col

from fediverse.core.accounts import create_account
from fediverse.core.config import load_settings
from fediverse.services import Services, open_services
from fediverse.social import actions
from fediverse.social.posts import PostDraft
from storage.counters import recount
from storage.models import Actor, Announce, Follow, FollowState, Like, Post, Visibility
from storage.types import new_snowflake, utcnow

USER = "star"


async def seed(services: Services, followers: int, likes: int) -> tuple[int, list[int]]:
    """The account's actor id and its 24 post ids (newest first); prints how long the bulk rows took."""
    account = await create_account(services.db, services.urls, USER)
    for index in range(24):
        await actions.publish(services, USER, PostDraft(caption=f"Evening {index} over the lake", mood_word="calm"))
    async with services.db.session() as session:
        post_ids = list(
            await session.scalars(
                select(Post.id).where(col(Post.author_id) == account.actor_id).order_by(col(Post.id).desc())
            )
        )
    now, started = utcnow(), time.perf_counter()
    fans = max(followers, likes)
    counted = ("follows", "likes", "announces", "posts")
    async with services.db.transaction() as session:
        if not services.db.is_sqlite:
            # Thousands of row-by-row increments of one row in one transaction are slow on PostgreSQL (each
            # adds a row version to walk; decision 0052): seed without the triggers, then recount.
            for table in counted:
                await session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        await session.execute(
            insert(Actor),
            [
                {
                    "ap_id": f"https://fans.example/users/{n}",
                    "username": f"fan{n}",
                    "domain": "fans.example",
                    "inbox_url": "https://fans.example/inbox",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(fans)
            ],
        )
        fan_ids = list(await session.scalars(select(Actor.id).where(col(Actor.domain) == "fans.example")))
        rows = [
            {"follower_id": fan, "followee_id": account.actor_id, "state": FollowState.ACCEPTED, "created_at": now}
            for fan in fan_ids[:followers]
        ]
        await session.execute(insert(Follow), rows)
        await session.execute(
            insert(Like), [{"actor_id": fan, "post_id": post_ids[0], "created_at": now} for fan in fan_ids[:likes]]
        )
        boosts = [{"id": new_snowflake(), "actor_id": fan, "post_id": post_ids[0], "published": now} for fan in fan_ids]
        await session.execute(insert(Announce), boosts[: likes // 5])
        replies = [
            {
                "id": new_snowflake(),
                "ap_id": f"https://fans.example/notes/{n}",
                "author_id": fan,
                "visibility": Visibility.PUBLIC,
                "in_reply_to_id": post_ids[0],
                "published": now,
                "created_at": now,
            }
            for n, fan in enumerate(fan_ids[: likes // 10])
        ]
        await session.execute(insert(Post), replies)
        if not services.db.is_sqlite:
            for table in counted:
                await session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
            await recount(session, fix=True)
    rows_written = followers + likes + likes // 5 + likes // 10
    took = time.perf_counter() - started
    how = "triggers on" if services.db.is_sqlite else "triggers off, then recount --fix"
    print(f"  seeded {fans:,} actors and {rows_written:,} counted rows in {took:.1f} s (in bulk, {how})")
    return account.actor_id, post_ids


async def rate(seconds: float, one: Callable[[], Awaitable[object]]) -> float:
    """Calls of ``one`` per second over ``seconds`` (after a short warm-up)."""
    for _ in range(20):
        await one()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        await one()
        count += 1
    return count / (time.perf_counter() - started)


async def measure(services: Services, actor_id: int, post_ids: list[int], seconds: float) -> None:
    db = services.db
    accepted = col(Follow.state) == FollowState.ACCEPTED

    async def baseline() -> None:
        async with db.session() as session:
            await session.scalar(select(Actor.id).where(col(Actor.id) == actor_id))

    async def before() -> None:
        async with db.session() as session:
            listed = (col(Post.author_id) == actor_id, col(Post.deleted_at).is_(None))
            await session.scalar(select(func.count()).select_from(Post).where(*listed))
            await session.scalar(
                select(func.count()).select_from(Follow).where(Follow.followee_id == actor_id, accepted)
            )
            await session.scalar(
                select(func.count()).select_from(Follow).where(Follow.follower_id == actor_id, accepted)
            )
            for column, extra in (
                (col(Like.post_id), ()),
                (col(Announce.post_id), ()),
                (col(Post.in_reply_to_id), (col(Post.deleted_at).is_(None),)),
            ):
                await session.execute(select(column, func.count()).where(column.in_(post_ids), *extra).group_by(column))

    async def after() -> None:
        async with db.session() as session:
            await session.execute(
                select(Actor.posts_count, Actor.followers_count, Actor.following_count).where(col(Actor.id) == actor_id)
            )
            await session.execute(
                select(Post.id, Post.likes_count, Post.boosts_count, Post.replies_count).where(
                    col(Post.id).in_(post_ids)
                )
            )

    liker = actor_id  # the account likes its own post: a row the triggers count, then take back

    async def like_and_undo() -> None:
        async with db.transaction() as session:
            await session.execute(insert(Like).values(actor_id=liker, post_id=post_ids[1], created_at=utcnow()))
        async with db.transaction() as session:
            await session.execute(delete(Like).where(col(Like.actor_id) == liker, col(Like.post_id) == post_ids[1]))

    base = await rate(seconds, baseline)
    print(f"  baseline: primary-key read      {base:>9,.0f} /s   (1.00)")
    for name, case in (("before: six COUNT(*) a page", before), ("after: two counter reads", after)):
        value = await rate(seconds, case)
        print(f"  {name:<31} {value:>9,.0f} /s   ({value / base:.3f} of baseline; {1000 / value:.2f} ms)")
    with_triggers = await rate(seconds, like_and_undo)
    async with db.transaction() as session:
        if services.db.is_sqlite:
            for event in ("insert", "delete"):
                await session.execute(text(f"DROP TRIGGER count_likes_{event}"))
        else:
            await session.execute(text("DROP TRIGGER count_likes_insert_delete ON likes"))
    without = await rate(seconds, like_and_undo)
    print(
        f"  like + undo (2 transactions)    {with_triggers:>9,.0f} /s with triggers, {without:,.0f} /s without"
        f"   ({with_triggers / without:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--followers", type=int, default=5000)
    parser.add_argument("--likes", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=2.0)
    arguments = parser.parse_args()
    print(
        f"counters on {arguments.database}: {arguments.followers:,} followers, {arguments.likes:,} likes, "
        f"{arguments.likes // 5:,} boosts, {arguments.likes // 10:,} replies on one of 24 posts"
    )

    async def run(environment: dict[str, str]) -> None:
        async with open_services(load_settings(environment), migrate=True) as services:
            actor_id, post_ids = await seed(services, arguments.followers, arguments.likes)
            await measure(services, actor_id, post_ids, arguments.seconds)

    with scratch_instance(arguments.database) as (data_dir, database), tempfile.TemporaryDirectory():
        asyncio.run(run(reverie_environment("http://127.0.0.1:9", data_dir, database.url)))


if __name__ == "__main__":
    main()
