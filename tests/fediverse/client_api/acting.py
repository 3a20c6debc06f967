"""Test helpers for the client API's account tests: posts and actions made the way the web UI makes
them (``fediverse.social.actions``), so the endpoints read rows as they really are."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.testclient import TestClient

from fediverse.social import actions
from fediverse.social.posts import PostDraft
from storage.models import Account, Media, MediaState, Post
from tests.conftest import run_in_app, services_of

T = TypeVar("T")


def act(client: TestClient, action: Callable[..., Awaitable[T]], *args: Any, **options: Any) -> T:
    """Run a ``fediverse.social.actions`` function inside the app."""

    async def run() -> T:
        return await action(services_of(client), *args, **options)

    return run_in_app(client, run)


def draft_image(client: TestClient, owner: Account) -> int:
    """A draft image row of ``owner`` (its files are not needed to show it), ready to attach."""
    services = services_of(client)

    async def add() -> int:
        async with services.db.transaction() as session:
            media = Media(
                owner_account_id=owner.id,
                state=MediaState.DRAFT,
                mime="image/webp",
                width=64,
                height=48,
                display_key=f"dd/dd/{'d' * 64}.webp",
                thumbnail_key=f"ee/ee/{'e' * 64}.webp",
                original_key=f"ff/ff/{'f' * 64}.png",
                blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj",
            )
            session.add(media)
            await session.flush()
            assert media.id is not None
            return media.id

    return run_in_app(client, add)


def publish(client: TestClient, username: str, caption: str = "a quiet harbour", **draft: Any) -> Post:
    return act(client, actions.publish, username, PostDraft(caption=caption, **draft))
