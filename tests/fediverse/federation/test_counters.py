"""Counts people see (profile header, a post's likes, boosts and replies, AS2 ``totalItems``), read from
counter columns that the database keeps in step with what they count (decision 0052): after local
actions, after activities from a signed peer, after blocks and deletes, and after migration 0007 fills
them for an existing database."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlmodel import col
from starlette.testclient import TestClient

from fediverse.core.config import Settings
from fediverse.federation.threads import link_replies
from fediverse.services import Services
from fediverse.social import actions
from fediverse.social.posts import PostDraft
from storage.counters import Miscount, recount
from storage.db import Database, alembic_config
from storage.models import Account, Post, Visibility
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import (
    AS2,
    act,
    create_of,
    deliver,
    drain,
    follow_remote,
    publish,
    remote_follows,
    remote_note,
)
from tests.peers import FakePeer, PeerActor

BROWSER = {"Accept": "text/html"}
ANA = f"{TEST_BASE_URL}/users/ana"


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    """Without the few seconds anonymous pages are kept (decision 0051): each read shows the counts as
    they are now, which is what these tests check."""
    return make_settings(database_url, REVERIE_ALLOW_PRIVATE_ADDRESSES="true", REVERIE_ANONYMOUS_CACHE_MS="0")


def profile_counts(client: TestClient, handle: str) -> dict[str, int]:
    """The numbers in a profile's header, as a stranger sees them."""
    page = client.get(f"/@{handle}", headers=BROWSER)
    assert page.status_code == 200
    found = re.findall(r"<strong>(\d+)</strong> (posts|followers here|followers|following)", page.text)
    return {label.removesuffix(" here"): int(number) for number, label in found}


def post_counts(client: TestClient, path: str) -> dict[str, int]:
    """A post page's likes, boosts and replies, as a stranger sees them (the post itself comes first)."""
    page = client.get(path, headers=BROWSER)
    assert page.status_code == 200
    counts: dict[str, int] = {}
    for label in ("Likes", "Boosts", "Replies"):
        match = re.search(rf'title="{label}">.*?<span class="action-count">(\d+)</span>', page.text)
        assert match is not None, label
        counts[label.lower()] = int(match.group(1))
    return counts


def total_items(client: TestClient, path: str) -> int:
    return int(client.get(path, headers=AS2).json()["totalItems"])


def miscounts(client: TestClient) -> list[Miscount]:
    """Counters that differ from a fresh count of their rows (none, when the database kept them right)."""

    async def run() -> list[Miscount]:
        async with services_of(client).db.session() as session:
            return await recount(session)

    return run_in_app(client, run)


def test_local_actions_change_the_counts_people_see(client: TestClient, make_user: Callable[..., Account]) -> None:
    make_user("ana")
    make_user("bob")
    # Given ana's post, and bob following her
    post = publish(client, "ana", "a lighthouse in fog")
    path = f"/@ana/{post.id}"
    act(client, actions.follow, "bob", ANA)
    assert profile_counts(client, "ana") == {"posts": 1, "followers": 1, "following": 0}
    assert profile_counts(client, "bob") == {"posts": 0, "followers": 0, "following": 1}
    assert total_items(client, "/users/ana/followers") == 1 and total_items(client, "/users/bob/following") == 1
    assert total_items(client, "/users/ana/outbox") == 1
    # When bob likes, boosts and answers it
    act(client, actions.like, "bob", post.ap_id)
    act(client, actions.boost, "bob", post.ap_id)
    reply = act(client, actions.publish, "bob", PostDraft(caption="so calm", in_reply_to=post))
    # Then everyone sees it counted
    assert post_counts(client, path) == {"likes": 1, "boosts": 1, "replies": 1}
    assert profile_counts(client, "bob")["posts"] == 1
    # A repeated like or boost counts once
    act(client, actions.like, "bob", post.ap_id)
    act(client, actions.boost, "bob", post.ap_id)
    assert post_counts(client, path) == {"likes": 1, "boosts": 1, "replies": 1}
    # A followers-only post is not among the posts the profile and outbox count
    publish(client, "ana", "for friends", visibility=Visibility.FOLLOWERS)
    assert profile_counts(client, "ana")["posts"] == 1 and total_items(client, "/users/ana/outbox") == 1
    assert client.get("/nodeinfo/2.1").json()["usage"]["localPosts"] == 2  # ana's post and bob's reply
    assert miscounts(client) == []
    # When bob takes it all back
    act(client, actions.unlike, "bob", post.ap_id)
    act(client, actions.unboost, "bob", post.ap_id)
    act(client, actions.delete_post, "bob", reply.ap_id)
    act(client, actions.unfollow, "bob", ANA)
    # Then the counts are back to nothing
    assert post_counts(client, path) == {"likes": 0, "boosts": 0, "replies": 0}
    assert profile_counts(client, "bob") == {"posts": 0, "followers": 0, "following": 0}
    assert profile_counts(client, "ana") == {"posts": 1, "followers": 0, "following": 0}
    # And when ana deletes her post, her profile counts nothing
    act(client, actions.delete_post, "ana", post.ap_id)
    assert profile_counts(client, "ana")["posts"] == 0 and total_items(client, "/users/ana/outbox") == 0
    assert miscounts(client) == []


def test_a_follow_request_counts_once_approved(client: TestClient, make_user: Callable[..., Account]) -> None:
    make_user("ana")
    make_user("bob")
    run_in_app(client, _approve_by_hand, client, "ana")
    # Given bob asks to follow ana, who approves followers by hand
    act(client, actions.follow, "bob", ANA)
    assert profile_counts(client, "ana")["followers"] == 0 and profile_counts(client, "bob")["following"] == 0
    # When she approves, both counts move; when she removes him, both go back
    act(client, _answer, "ana", f"{TEST_BASE_URL}/users/bob", True)
    assert profile_counts(client, "ana")["followers"] == 1 and profile_counts(client, "bob")["following"] == 1
    act(client, _answer, "ana", f"{TEST_BASE_URL}/users/bob", False)
    assert profile_counts(client, "ana")["followers"] == 0 and profile_counts(client, "bob")["following"] == 0
    assert miscounts(client) == []


async def _answer(services: Services, username: str, follower: str, approve: bool) -> None:
    await actions.answer_follow_request(services, username, follower, approve=approve)


async def _approve_by_hand(client: TestClient, username: str) -> None:
    async with services_of(client).db.transaction() as session:
        await session.execute(
            text(
                "UPDATE actors SET manually_approves_followers = TRUE WHERE id = "
                "(SELECT actor_id FROM accounts WHERE username = :name)"
            ),
            {"name": username},
        )


def test_activities_from_a_signed_peer_change_the_counts(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    peer.trust(client.get("/users/ana", headers=AS2).json())
    ben = peer.add_actor("ben")
    post = publish(client, "ana", "counted from afar")
    path = f"/@ana/{post.id}"
    # When ben (on another server) follows ana, likes, boosts and answers her post
    follow = remote_follows(client, peer, ben, "ana")
    like = {"id": f"{ben.id}#likes/1", "type": "Like", "actor": ben.id, "object": post.ap_id}
    boost = {"id": f"{ben.id}/statuses/2/activity", "type": "Announce", "actor": ben.id, "object": post.ap_id}
    reply = remote_note(ben, 3, "<p>lovely</p>", inReplyTo=post.ap_id, cc=[ANA])
    for activity in (like, boost, create_of(ben, reply)):
        deliver(client, peer, ben, activity)
    # Then the counts show it, here and in ana's followers collection; ben's profile counts what we know
    assert post_counts(client, path) == {"likes": 1, "boosts": 1, "replies": 1}
    assert profile_counts(client, "ana")["followers"] == 1 and total_items(client, "/users/ana/followers") == 1
    assert profile_counts(client, ben.handle) == {"posts": 1, "followers": 0}
    # A replayed Like counts once
    deliver(client, peer, ben, {**like, "id": f"{ben.id}#likes/1-again"})
    assert post_counts(client, path)["likes"] == 1
    assert miscounts(client) == []

    def undo(number: int, obj: dict[str, Any] | str) -> None:
        deliver(client, peer, ben, {"id": f"{ben.id}#undo/{number}", "type": "Undo", "actor": ben.id, "object": obj})

    # When he undoes the like, the boost and the follow, and deletes his reply
    undo(1, like)
    undo(2, boost["id"])
    undo(3, follow)
    deliver(client, peer, ben, {"id": f"{ben.id}#delete/3", "type": "Delete", "actor": ben.id, "object": reply["id"]})
    # Then nothing is counted any more
    assert post_counts(client, path) == {"likes": 0, "boosts": 0, "replies": 0}
    assert profile_counts(client, "ana")["followers"] == 0 and total_items(client, "/users/ana/followers") == 0
    assert profile_counts(client, ben.handle) == {"posts": 0, "followers": 0}
    assert miscounts(client) == []


def test_a_deleted_account_takes_its_likes_boosts_replies_and_follows_with_it(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    peer.trust(client.get("/users/ana", headers=AS2).json())
    ben = peer.add_actor("ben")
    post = publish(client, "ana", "soon forgotten")
    follow_remote(client, peer, "ana", ben)
    remote_follows(client, peer, ben, "ana")
    for activity in (
        {"id": f"{ben.id}#likes/1", "type": "Like", "actor": ben.id, "object": post.ap_id},
        {"id": f"{ben.id}/statuses/2/activity", "type": "Announce", "actor": ben.id, "object": post.ap_id},
        create_of(ben, remote_note(ben, 3, "<p>bye</p>", inReplyTo=post.ap_id, cc=[ANA])),
    ):
        deliver(client, peer, ben, activity)
    assert profile_counts(client, "ana") == {"posts": 1, "followers": 1, "following": 1}
    # When ben's server deletes his account
    deliver(client, peer, ben, {"id": f"{ben.id}#delete", "type": "Delete", "actor": ben.id, "object": ben.id})
    # Then ana's post and profile count nothing of him
    assert post_counts(client, f"/@ana/{post.id}") == {"likes": 0, "boosts": 0, "replies": 0}
    assert profile_counts(client, "ana") == {"posts": 1, "followers": 0, "following": 0}
    assert miscounts(client) == []


def test_blocks_end_follows_and_their_counts(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    make_user("bob")
    peer.trust(client.get("/users/ana", headers=AS2).json())
    peer.trust(client.get("/actor", headers=AS2).json())
    ben = peer.add_actor("ben")
    # Given ana and ben (remote) following each other, and ana and bob (local) too
    follow_remote(client, peer, "ana", ben)
    remote_follows(client, peer, ben, "ana")
    act(client, actions.follow, "ana", f"{TEST_BASE_URL}/users/bob")
    act(client, actions.follow, "bob", ANA)
    assert profile_counts(client, "ana") == {"posts": 0, "followers": 2, "following": 2}
    # When ana blocks ben, and bob blocks ana
    act(client, actions.block, "ana", ben.id)
    drain(client)
    act(client, actions.block, "bob", ANA)
    # Then no follow is left, and no count
    assert profile_counts(client, "ana") == {"posts": 0, "followers": 0, "following": 0}
    assert profile_counts(client, "bob") == {"posts": 0, "followers": 0, "following": 0}
    assert total_items(client, "/users/ana/following") == 0
    assert miscounts(client) == []


def test_a_block_from_a_peer_ends_follows_both_ways(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    peer.trust(client.get("/users/ana", headers=AS2).json())
    ben: PeerActor = peer.add_actor("ben")
    follow_remote(client, peer, "ana", ben)
    remote_follows(client, peer, ben, "ana")
    assert profile_counts(client, "ana") == {"posts": 0, "followers": 1, "following": 1}
    deliver(client, peer, ben, {"id": f"{ben.id}#blocks/1", "type": "Block", "actor": ben.id, "object": ANA})
    assert profile_counts(client, "ana") == {"posts": 0, "followers": 0, "following": 0}
    assert miscounts(client) == []


# -- migration 0007 -------------------------------------------------------------------------------

SEED = [
    "INSERT INTO actors (id, ap_id, type, username, domain, is_local, display_name, summary_html, inbox_url, "
    "manually_approves_followers, discoverable, indexable, created_at, updated_at) VALUES "
    "(901, 'https://a.example/u/a', 'Person', 'a', 'a.example', FALSE, '', '', 'https://a.example/i', "
    "FALSE, FALSE, FALSE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'), "
    "(902, 'https://a.example/u/b', 'Person', 'b', 'a.example', FALSE, '', '', 'https://a.example/i', "
    "FALSE, FALSE, FALSE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'), "
    "(903, 'https://a.example/u/c', 'Person', 'c', 'a.example', FALSE, '', '', 'https://a.example/i', "
    "FALSE, FALSE, FALSE, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    # a: a public post, an unlisted one, a followers-only one and a deleted one; b: two replies, one deleted
    "INSERT INTO posts (id, ap_id, author_id, is_local, visibility, content_html, sensitive, hide_prompt, "
    "in_reply_to_id, deleted_at, published, created_at) VALUES "
    "(11, 'https://a.example/p/11', 901, FALSE, 'public', '', FALSE, FALSE, NULL, NULL, "
    "'2026-01-01 00:00:00', '2026-01-01 00:00:00'), "
    "(12, 'https://a.example/p/12', 901, FALSE, 'unlisted', '', FALSE, FALSE, NULL, NULL, "
    "'2026-01-01 00:00:00', '2026-01-01 00:00:00'), "
    "(13, 'https://a.example/p/13', 901, FALSE, 'followers', '', FALSE, FALSE, NULL, NULL, "
    "'2026-01-01 00:00:00', '2026-01-01 00:00:00'), "
    "(14, 'https://a.example/p/14', 901, FALSE, 'public', '', FALSE, FALSE, NULL, '2026-01-02 00:00:00', "
    "'2026-01-01 00:00:00', '2026-01-01 00:00:00'), "
    "(21, 'https://a.example/p/21', 902, FALSE, 'public', '', FALSE, FALSE, 11, NULL, "
    "'2026-01-01 00:00:00', '2026-01-01 00:00:00'), "
    "(22, 'https://a.example/p/22', 902, FALSE, 'public', '', FALSE, FALSE, 11, '2026-01-02 00:00:00', "
    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    "INSERT INTO likes (id, actor_id, post_id, created_at) VALUES "
    "(1, 902, 11, '2026-01-01 00:00:00'), (2, 903, 11, '2026-01-01 00:00:00'), (3, 903, 12, '2026-01-01 00:00:00')",
    "INSERT INTO announces (id, actor_id, post_id, visibility, published) VALUES "
    "(1, 902, 11, 'public', '2026-01-01 00:00:00')",
    # b and c follow a (c's follow still pending); a follows b
    "INSERT INTO follows (id, follower_id, followee_id, state, created_at) VALUES "
    "(1, 902, 901, 'accepted', '2026-01-01 00:00:00'), (2, 903, 901, 'pending', '2026-01-01 00:00:00'), "
    "(3, 901, 902, 'accepted', '2026-01-01 00:00:00')",
]


def _migrate_with_data(connection: Connection) -> tuple[list[Any], list[Any]]:
    """Back to 0006, rows written as a database of that age holds them, then up to the newest."""
    command.downgrade(alembic_config(connection), "0006")
    for statement in SEED:
        connection.execute(text(statement))
    command.upgrade(alembic_config(connection), "head")
    actors = connection.execute(
        text("SELECT id, posts_count, followers_count, following_count FROM actors WHERE id > 900 ORDER BY id")
    ).all()
    posts = connection.execute(
        text("SELECT id, likes_count, boosts_count, replies_count FROM posts WHERE id < 100 ORDER BY id")
    ).all()
    return [tuple(row) for row in actors], [tuple(row) for row in posts]


def test_the_migration_fills_the_counters_from_existing_rows(database_url: str) -> None:
    async def run() -> tuple[list[Any], list[Any], list[Miscount]]:
        database = Database(database_url)
        try:
            async with database.writer_engine.begin() as connection:
                actors, posts = await connection.run_sync(_migrate_with_data)
            async with database.session() as session:
                return actors, posts, await recount(session)
        finally:
            await database.dispose()

    actors, posts, wrong = asyncio.run(run())
    assert actors == [(901, 2, 1, 1), (902, 1, 1, 1), (903, 0, 0, 0)]
    assert posts == [(11, 2, 1, 1), (12, 1, 0, 0), (13, 0, 0, 0), (14, 0, 0, 0), (21, 0, 0, 0), (22, 0, 0, 0)]
    assert wrong == []


def test_recount_finds_and_sets_right_a_counter_that_drifted(database_url: str) -> None:
    async def run() -> tuple[list[Miscount], list[Miscount]]:
        database = Database(database_url)
        try:
            async with database.transaction() as session:
                for statement in SEED:
                    await session.execute(text(statement))
                await session.execute(text("UPDATE posts SET likes_count = 7 WHERE id = 11"))
            async with database.transaction() as session:
                found = await recount(session, fix=True)
            async with database.session() as session:
                return found, await recount(session)
        finally:
            await database.dispose()

    found, after = asyncio.run(run())
    assert found == [Miscount("posts", 11, "likes_count", 7, 2)]
    assert after == []


def test_a_parent_that_arrives_after_its_replies_counts_them(database_url: str) -> None:
    """A reply stored before its parent is linked when the parent comes (``link_replies``): one UPDATE of
    the replies, which the parent's count follows."""

    async def run() -> tuple[int, list[Miscount]]:
        database = Database(database_url)
        try:
            async with database.transaction() as session:
                await session.execute(text(SEED[0]))
                for number in (31, 32):  # two replies to a note we do not have yet
                    session.add(
                        Post(
                            id=number,
                            ap_id=f"https://a.example/p/{number}",
                            author_id=902,
                            in_reply_to_ap_id="https://a.example/p/30",
                        )
                    )
                await session.flush()
                parent = Post(id=30, ap_id="https://a.example/p/30", author_id=901)
                session.add(parent)
                await session.flush()
                await link_replies(session, parent)
            async with database.session() as session:
                stored = await session.scalar(select(col(Post.replies_count)).where(col(Post.id) == 30))
                return int(stored or 0), await recount(session)
        finally:
            await database.dispose()

    replies, wrong = asyncio.run(run())
    assert replies == 2
    assert wrong == []
