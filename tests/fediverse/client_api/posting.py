"""Helpers for the statuses, timelines and edits tests: drafts to attach, follows, remote posts, and the
fields Mastodon documents for a ``Status`` (docs.joinmastodon.org/entities/Status)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlmodel import col
from starlette.testclient import TestClient

from fediverse.social import actions
from fediverse.studio.drafts import create_upload
from storage.models import Account, Actor, Media, Post
from storage.types import utcnow
from tests.conftest import run_in_app, services_of
from tests.fediverse.client_api.shapes import STATUS_KEYS
from tests.fediverse.test_imaging import encode, gradient

#: ``StatusEdit`` (docs.joinmastodon.org/entities/StatusEdit), ``poll`` being optional.
STATUS_EDIT_KEYS = frozenset(
    {"content", "spoiler_text", "sensitive", "created_at", "account", "media_attachments", "emojis"}
)
LISTS = ("media_attachments", "mentions", "tags", "emojis", "filtered")


def check_status(status: dict[str, Any]) -> None:
    """The shape every client relies on: all of Mastodon's fields, string ids, lists never null."""
    assert set(status) >= STATUS_KEYS, STATUS_KEYS - set(status)
    assert isinstance(status["id"], str) and status["id"].isdigit()
    assert isinstance(status["account"]["id"], str)
    for name in LISTS:
        assert isinstance(status[name], list), name
    for name in ("reblogs_count", "favourites_count", "replies_count"):
        assert isinstance(status[name], int), name
    for name in ("sensitive", "favourited", "reblogged", "muted", "bookmarked", "pinned"):
        assert isinstance(status[name], bool), name
    assert status["visibility"] in ("public", "unlisted", "private", "direct")
    assert status["created_at"].endswith("Z")
    if status["reblog"] is not None:
        check_status(status["reblog"])


def upload(client: TestClient, account: Account, alt_text: str = "") -> Media:
    """A draft picture owned by ``account``, as an upload leaves it."""
    services = services_of(client)

    async def make() -> Media:
        return await create_upload(services, account, encode(gradient(64, 48), "PNG"), alt_text)

    return run_in_app(client, make)


def act(client: TestClient, action: Callable[..., Awaitable[object]], *args: Any) -> None:
    """Run one of ``fediverse.social.actions`` (``follow``, ``mute``…) as the first argument's account."""
    services = services_of(client)

    async def run() -> None:
        await action(services, *args)

    run_in_app(client, run)


def follow(client: TestClient, follower: str, followee: str) -> None:
    act(client, actions.follow, follower, followee)


def remote_post(client: TestClient, content: str = "<p>from afar</p>", **fields: Any) -> Post:
    """A public post by an account on another server, stored as if it had arrived."""
    services = services_of(client)

    async def store() -> Post:
        async with services.db.transaction() as session:
            actor = Actor(
                ap_id="https://far.example/users/zoe",
                username="zoe",
                domain="far.example",
                inbox_url="https://far.example/users/zoe/inbox",
                is_local=False,
            )
            existing = await session.scalar(select(Actor).where(col(Actor.ap_id) == actor.ap_id))
            if existing is None:
                session.add(actor)
                await session.flush()
            else:
                actor = existing
            post = Post(ap_id="", author_id=actor.id or 0, content_html=content, published=utcnow(), **fields)
            post.ap_id = f"https://far.example/notes/{post.id}"
            session.add(post)
        return post

    return run_in_app(client, store)
