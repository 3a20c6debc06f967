"""What a signed-in local user does, in one call each: the layer the web UI and the CLI share.

Each action resolves what it needs (remote lookups happen before any write lock is taken), applies
the change through ``fediverse.social`` in one transaction, and wakes the worker so deliveries leave
at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.errors import BadRequest, NotFound
from fediverse.core.media_files import forget_files
from fediverse.core.urls import Urls
from fediverse.services import Services
from fediverse.social import (
    blocks,
    bookmarks,
    domain_blocks,
    follows,
    interactions,
    moves,
    pins,
    posts,
    profiles,
    reports,
)
from storage.models import Account, Actor, Announce, Block, Bookmark, Follow, Like, Mute, Post, Report
from storage.types import utcnow


async def load_account(services: Services, username: str) -> tuple[Account, Actor]:
    async with services.db.session() as session:
        row = (
            await session.execute(
                select(Account, Actor)
                .join(Actor, col(Actor.id) == col(Account.actor_id))
                .where(col(Account.username) == username)
            )
        ).first()
    if row is None or row[0].disabled_at is not None:
        raise NotFound(f"No local account named {username!r}.")
    return row[0], row[1]


async def find_actor(services: Services, reference: str) -> Actor:
    """An actor from ``@user@host``, ``user@host``, a bare local name or an actor id (fetched if needed)."""
    reference = reference.strip()
    if reference.startswith(("https://", "http://")):
        return await services.resolver.actor(reference)
    return await services.resolver.handle(reference)


async def find_post(services: Services, reference: str) -> Post:
    """A post by its id (local or remote, fetched from its origin when unknown) or our own URL."""
    async with services.db.session() as session:
        post = await session.scalar(select(Post).where((col(Post.ap_id) == reference) | (col(Post.url) == reference)))
    if post is None and not services.urls.is_local(reference):
        post = await services.resolver.note(reference)
    if post is None or post.deleted_at is not None:
        raise NotFound("No such post.")
    return post


Result = TypeVar("Result")
_Relation = Callable[[AsyncSession, Urls, Actor, Actor], Awaitable[Result]]


async def _toward(services: Services, username: str, reference: str, operation: _Relation[Result]) -> Result:
    """Run one of ``fediverse.social``'s account-to-account operations as ``username`` on ``reference``."""
    _, me = await load_account(services, username)
    target = await find_actor(services, reference)
    async with services.db.transaction() as session:
        result = await operation(session, services.urls, await _attach(session, me), await _attach(session, target))
    services.wake_worker("deliveries")
    return result


async def follow(services: Services, username: str, reference: str) -> Follow:
    return await _toward(services, username, reference, follows.request_follow)


async def unfollow(services: Services, username: str, reference: str) -> None:
    await _toward(services, username, reference, follows.cancel_follow)


async def block(services: Services, username: str, reference: str) -> Block:
    """Block an account: follows end both ways, a remote account's server is told (``Block``)."""
    return await _toward(services, username, reference, blocks.block_account)


async def unblock(services: Services, username: str, reference: str) -> None:
    await _toward(services, username, reference, blocks.unblock_account)


async def mute(services: Services, username: str, reference: str, *, hide_notifications: bool = True) -> Mute:
    """Mute an account (nothing is sent anywhere)."""

    async def operation(session: AsyncSession, _urls: Urls, me: Actor, target: Actor) -> Mute:
        return await blocks.mute_account(session, me, target, hide_notifications=hide_notifications)

    return await _toward(services, username, reference, operation)


async def unmute(services: Services, username: str, reference: str) -> None:
    async def operation(session: AsyncSession, _urls: Urls, me: Actor, target: Actor) -> None:
        await blocks.unmute_account(session, me, target)

    await _toward(services, username, reference, operation)


async def report(
    services: Services,
    username: str,
    reference: str,
    *,
    comment: str,
    post_references: Sequence[str] = (),
    forward: bool = False,
) -> Report:
    """Report an account (and some of its posts) to this instance's admins; with ``forward``, also send
    the report to a remote account's server (as the instance, not as ``username``)."""
    reported_posts = [await find_post(services, item) for item in post_references]

    async def operation(session: AsyncSession, urls: Urls, me: Actor, target: Actor) -> Report:
        return await reports.file_report(session, urls, me, target, reported_posts, comment, forward=forward)

    return await _toward(services, username, reference, operation)


async def answer_follow_request(services: Services, username: str, follower_ap_id: str, *, approve: bool) -> None:
    """Approve or reject a pending request (or remove an existing follower, with ``approve=False``)."""
    _, me = await load_account(services, username)
    async with services.db.transaction() as session:
        follower = await session.scalar(select(Actor).where(col(Actor.ap_id) == follower_ap_id))
        if follower is None:
            raise NotFound("No such follower.")
        if approve:
            await follows.approve_follow_request(session, services.urls, await _attach(session, me), follower)
        else:
            await follows.remove_follower(session, services.urls, await _attach(session, me), follower)
    services.wake_worker("deliveries")


async def _post_and_author(services: Services, reference: str) -> tuple[Post, Actor]:
    post = await find_post(services, reference)
    async with services.db.session() as session:
        author = await session.get(Actor, post.author_id)
    assert author is not None
    return post, author


_Interaction = Callable[[AsyncSession, Urls, Actor, Post, Actor], Awaitable[object]]


async def _interact(services: Services, username: str, reference: str, operation: _Interaction) -> object:
    """Run one of ``fediverse.social.interactions``' operations on a post, as ``username``."""
    _, me = await load_account(services, username)
    post, author = await _post_and_author(services, reference)
    async with services.db.transaction() as session:
        actor, target = await _attach(session, me), await _attach(session, post)
        result = await operation(session, services.urls, actor, target, author)
    services.wake_worker("deliveries")
    return result


async def like(services: Services, username: str, reference: str) -> Like:
    result = await _interact(services, username, reference, interactions.like_post)
    assert isinstance(result, Like)
    return result


async def unlike(services: Services, username: str, reference: str) -> None:
    await _interact(services, username, reference, interactions.unlike_post)


async def boost(services: Services, username: str, reference: str) -> Announce:
    result = await _interact(services, username, reference, interactions.boost_post)
    assert isinstance(result, Announce)
    return result


async def unboost(services: Services, username: str, reference: str) -> None:
    await _interact(services, username, reference, interactions.unboost_post)


async def bookmark(services: Services, username: str, reference: str) -> Bookmark:
    """Bookmark a post (private to the account; nothing is sent)."""
    account, _ = await load_account(services, username)
    post = await find_post(services, reference)
    async with services.db.transaction() as session:
        return await bookmarks.bookmark_post(session, account, await _attach(session, post))


async def unbookmark(services: Services, username: str, reference: str) -> None:
    account, _ = await load_account(services, username)
    post = await find_post(services, reference)
    async with services.db.transaction() as session:
        await bookmarks.unbookmark_post(session, account, post)


async def pin(services: Services, username: str, reference: str) -> Post:
    """Pin one's own public or unlisted post to one's profile (at most ``pins.MAX_PINS``) and send ``Add``
    to one's followers' servers."""
    return await _pinning(services, username, reference, pins.pin_post)


async def unpin(services: Services, username: str, reference: str) -> Post:
    """Unpin one's own post and send ``Remove`` to one's followers' servers."""
    return await _pinning(services, username, reference, pins.unpin_post)


async def _pinning(
    services: Services,
    username: str,
    reference: str,
    change: Callable[[AsyncSession, Urls, Account, Post], Awaitable[bool]],
) -> Post:
    account, _ = await load_account(services, username)
    post = await find_post(services, reference)
    async with services.db.transaction() as session:
        attached = await _attach(session, post)
        changed = await change(session, services.urls, account, attached)
    if changed:
        services.wake_worker("deliveries")
    return attached


async def ensure_can_post(services: Services, username: str) -> None:
    """Refuse early (before any file is touched) what ``publish`` would refuse: a moved account's posts."""
    _, actor = await load_account(services, username)
    moves.ensure_can_post(actor)


async def publish(services: Services, username: str, draft: posts.PostDraft) -> Post:
    account, _ = await load_account(services, username)
    async with services.db.transaction() as session:
        post = await posts.publish_post(session, services.urls, account, draft)
    services.wake_worker("deliveries")
    return post


async def edit_post(services: Services, username: str, reference: str, **changes: Any) -> Post:
    """Change a post's caption, content warning, images, alt texts or focal points
    (``fediverse.social.posts.edit_post``'s keywords) and send ``Update{Note}`` to everyone who received it."""
    account, _ = await load_account(services, username)
    post = await find_post(services, reference)
    async with services.db.transaction() as session:
        edited, dropped = await posts.edit_post(
            session, services.urls, account, await _attach(session, post), **changes
        )
    services.wake_worker("deliveries")
    await forget_files(services.db, services.media, dropped)  # images taken out, after the commit
    return edited


async def delete_post(services: Services, username: str, reference: str) -> None:
    """Delete a post everywhere, and its image files here (after the commit: a crash in between leaves
    orphan files for the housekeeping sweep, never a live post without its files)."""
    account, _ = await load_account(services, username)
    post = await find_post(services, reference)
    async with services.db.transaction() as session:
        attached = await _attach(session, post)
        keys = await posts.delete_post(session, services.urls, account, attached)
    services.wake_worker("deliveries")
    await forget_files(services.db, services.media, keys)


Row = TypeVar("Row", Actor, Post)


async def _attach(session: AsyncSession, row: Row) -> Row:
    """The same row loaded in ``session`` (rows from an earlier session are detached)."""
    attached = await session.get(type(row), row.id)
    if attached is None:
        raise NotFound("It no longer exists.")
    return attached


async def update_profile(services: Services, username: str, changes: profiles.ProfileChanges) -> None:
    """Change display name, bio, images or follower approval, and tell followers' servers. The files of a
    replaced avatar or header are deleted."""
    account, _ = await load_account(services, username)
    async with services.db.transaction() as session:
        stored_account = await session.get(Account, account.id)
        actor = await session.get(Actor, account.actor_id)
        assert stored_account is not None and actor is not None
        replaced = await profiles.update_profile(session, services.urls, stored_account, actor, changes)
    services.wake_worker("deliveries")
    await forget_files(services.db, services.media, replaced)


async def block_domain(services: Services, username: str, domain: str) -> None:
    """Hide a whole domain from ``username`` (``fediverse.social.domain_blocks``); followers there are removed."""
    account, _ = await load_account(services, username)
    async with services.db.transaction() as session:
        stored_account = await session.get(Account, account.id)
        actor = await session.get(Actor, account.actor_id)
        assert stored_account is not None and actor is not None
        await domain_blocks.block_domain(session, services.urls, stored_account, actor, domain)
    services.wake_worker("deliveries")


async def unblock_domain(services: Services, username: str, domain: str) -> None:
    account, _ = await load_account(services, username)
    async with services.db.transaction() as session:
        await domain_blocks.unblock_domain(session, account, domain)


# Moving accounts (decision 0061): aliases, and moving to another account.


async def _fresh_actor(services: Services, reference: str) -> Actor:
    """The account ``reference`` names, with its document as its server serves it now: a move must not
    be judged on a cached ``alsoKnownAs`` (fetched again unless the lookup itself just fetched it)."""
    started = utcnow()
    target = await find_actor(services, reference)
    if target.is_local or (target.fetched_at is not None and target.fetched_at >= started):
        return target
    return await services.resolver.actor(target.ap_id, refresh=True)


async def add_alias(services: Services, username: str, reference: str) -> Actor:
    """List the account ``reference`` (``@user@host``, resolved through WebFinger, or an actor id) as one
    that ``username`` moves from; returns it. Our actor document then carries it in ``alsoKnownAs``."""
    account, _ = await load_account(services, username)
    alias = await find_actor(services, reference)
    async with services.db.transaction() as session:
        stored_account, actor = await _own_rows(session, account)
        await moves.add_alias(session, services.urls, stored_account, actor, alias)
    services.wake_worker("deliveries")
    return alias


async def remove_alias(services: Services, username: str, reference: str) -> str:
    """Take an alias off (by the handle or id it was added with); returns the id removed."""
    account, me = await load_account(services, username)
    alias_id = await _alias_id(services, me, reference)
    async with services.db.transaction() as session:
        stored_account, actor = await _own_rows(session, account)
        if not await moves.remove_alias(session, services.urls, stored_account, actor, alias_id):
            raise NotFound(f"{reference} is not an alias of @{username}.")
    services.wake_worker("deliveries")
    return alias_id


async def list_aliases(services: Services, username: str) -> list[tuple[str, Actor | None]]:
    """The account's aliases: each id, with the actor we know by it (``None`` when we do not)."""
    _, me = await load_account(services, username)
    ids = list(me.also_known_as or [])
    if not ids:
        return []
    async with services.db.session() as session:
        known = {actor.ap_id: actor for actor in await session.scalars(select(Actor).where(col(Actor.ap_id).in_(ids)))}
    return [(alias_id, known.get(alias_id)) for alias_id in ids]


async def move_account(services: Services, username: str, reference: str) -> Actor:
    """Move ``username`` to the account ``reference`` (on any server), which must list it as an alias;
    see ``fediverse.social.moves.move_account``. Returns the new account."""
    account, _ = await load_account(services, username)
    target = await _fresh_actor(services, reference)
    async with services.db.transaction() as session:
        stored_account, actor = await _own_rows(session, account)
        await moves.move_account(session, services.urls, stored_account, actor, await _attach(session, target))
    services.wake_worker("deliveries")
    return target


async def _own_rows(session: AsyncSession, account: Account) -> tuple[Account, Actor]:
    stored_account = await session.get(Account, account.id)
    actor = await session.get(Actor, account.actor_id)
    if stored_account is None or actor is None:
        raise NotFound("No such account.")
    return stored_account, actor


async def _alias_id(services: Services, me: Actor, reference: str) -> str:
    """The alias id ``reference`` names: an id as given, else a handle matched against the accounts we know
    by the ids listed (no network), else resolved."""
    reference = reference.strip()
    aliases = list(me.also_known_as or [])
    if reference.startswith(("https://", "http://")):
        return reference
    username, _, host = reference.lstrip("@").partition("@")
    if not username or not host:
        raise BadRequest("Give the alias as @user@host.")
    if aliases:
        async with services.db.session() as session:
            for actor in await session.scalars(select(Actor).where(col(Actor.ap_id).in_(aliases))):
                if actor.username.lower() == username.lower() and actor.domain.lower() == host.lower():
                    return actor.ap_id
    return (await find_actor(services, reference)).ap_id
