"""Actors and their collections: ``/users/{name}`` (+ outbox, followers, following, featured), ``/actor``.

The actor URL serves the ``Person`` document to ActivityPub clients; a browser is sent to the HTML
profile at ``/@{name}`` (Mastodon's layout), which in turn serves the document to AS2 clients.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from activitypub.vocab import JsonObject
from fediverse.core.accounts import USERNAME_PATTERN, LocalActor, find_local_actor, get_local_actor
from fediverse.core.errors import Gone, NotFound
from fediverse.federation.documents import (
    ActorImages,
    actor_document,
    barebones_actor_document,
    instance_actor_document,
    ordered_collection,
    ordered_collection_items,
    ordered_collection_page,
    tombstone_document,
)
from fediverse.federation.notes import PostView, create_activity, note_document
from fediverse.reads.pins import pinned_post_ids
from fediverse.reads.post_views import WITHOUT_RAW_ACTOR, WITHOUT_RAW_POST, post_views
from fediverse.services import Services
from fediverse.social.profiles import actor_images
from fediverse.web.activitypub.signed_fetch import Reader, anyone, authorize_fetch, authorize_key_read, authorize_read
from fediverse.web.params import page_number, query_id
from fediverse.web.responses import wants_activity_json
from storage.cache import ACCOUNTS
from storage.models import Account, Actor, Follow, FollowState, Post, Visibility

FOLLOWS_PAGE_SIZE = 40
OUTBOX_PAGE_SIZE = 20
#: The furthest page of a collection one may ask for (40 a page: four million followers).
MAX_PAGE = 100_000


async def load_account(session: AsyncSession, username: str) -> tuple[Account, Actor]:
    found = await get_local_actor(session, username) if USERNAME_PATTERN.fullmatch(username) else None
    if found is None:
        raise NotFound("No such account.")
    if found[0].disabled_at is not None:
        raise Gone("This account has been deleted.")
    return found


async def local_actor_document(services: Services, username: str) -> tuple[int, JsonObject]:
    """The actor id and full ``Person`` document of a local account, from this process's cache (name
    ``accounts``: a profile edit is served at once here, within a second by other processes); a miss
    reads it in one unit of work (decision 0049)."""
    cache = services.db.stamps.cache("actor documents", (ACCOUNTS,), max_entries=1000)

    async def load() -> tuple[int, JsonObject]:
        actor, images = await services.db.read(lambda session: _actor_unit(session, username))
        return actor.id, actor_document(actor, actor, services.urls, images)

    found = await cache.get(username, load)
    assert found is not None
    return found  # type: ignore[no-any-return]


_ACCOUNT_AND_ACTOR = (
    select(Account, Actor)
    .join(Actor, col(Actor.id) == col(Account.actor_id))
    .where(col(Account.username) == bindparam("username"))
    .options(WITHOUT_RAW_ACTOR)
)


def account_and_actor(session: Session, username: str) -> tuple[Account, Actor]:
    """``load_account`` in a unit of work: the rows themselves (without the actor's raw document)."""
    row = (
        session.execute(_ACCOUNT_AND_ACTOR, {"username": username}).first()
        if USERNAME_PATTERN.fullmatch(username)
        else None
    )
    if row is None:
        raise NotFound("No such account.")
    if row[0].disabled_at is not None:
        raise Gone("This account has been deleted.")
    return row[0], row[1]


def local_actor(session: Session, username: str) -> LocalActor:
    """``load_account`` in a unit of work, as the typed columns documents use."""
    found = find_local_actor(session, username) if USERNAME_PATTERN.fullmatch(username) else None
    if found is None:
        raise NotFound("No such account.")
    if found.disabled_at is not None:
        raise Gone("This account has been deleted.")
    return found


def _actor_unit(session: Session, username: str) -> tuple[LocalActor, ActorImages]:
    found = local_actor(session, username)
    return found, actor_images(session, found.avatar_media_id, found.header_media_id)


async def actor_response(request: Request, username: str) -> Response:
    """The actor document, at ``/users/{name}`` or ``/@{name}``. Under authorized fetch, anyone but a
    verified signer the account does not block gets the barebones one: the key and endpoints only."""
    services: Services = request.state.services
    try:
        actor_id, document = await local_actor_document(services, username)
    except Gone:
        return await _gone_actor(services, username)
    reader = await authorize_key_read(request, actor_id)
    if services.settings.authorized_fetch and reader.actor is None:
        return reader.respond(barebones_actor_document(document))
    return reader.respond(document, keep=True)


async def _gone_actor(services: Services, username: str) -> Response:
    """A deleted (or suspended) account's actor: ``410`` with a ``Tombstone`` (``deleted`` when it is for
    good), so a peer knows it is gone rather than missing. The username stays taken (decision 0060)."""
    async with services.db.session() as session:
        deleted_at = await session.scalar(select(col(Account.deleted_at)).where(col(Account.username) == username))
    tombstone = tombstone_document(services.urls.actor_id(username), "Person", deleted_at)
    return anyone().respond(tombstone, status_code=410)


async def actor(request: Request) -> Response:
    services: Services = request.state.services
    username = request.path_params["username"]
    if not wants_activity_json(request):
        return RedirectResponse(services.urls.profile_url(username), status_code=302, headers={"Vary": "Accept"})
    return await actor_response(request, username)


async def instance_actor(request: Request) -> Response:
    services: Services = request.state.services
    async with services.db.session() as session:
        found = await session.scalar(select(Actor).where(col(Actor.ap_id) == services.urls.instance_actor_id()))
    if found is None:
        raise NotFound()
    return anyone().respond(instance_actor_document(found, services.urls))


@asynccontextmanager
async def _collection_of(request: Request, username: str) -> AsyncIterator[tuple[AsyncSession, Actor, Reader]]:
    """A session, the account's actor and the reader of one of its collections (authorized fetch
    checked before the account is looked up, a reader the account blocks refused)."""
    services: Services = request.state.services
    await authorize_fetch(request)
    async with services.db.session() as session:
        _, actor = await load_account(session, username)
        assert actor.id is not None
        yield session, actor, await authorize_read(request, actor.id, public=True, session=session)


def _page_number(request: Request) -> int | None:
    """``?page=N``; ``?page=true`` (Mastodon's, for a collection paged by ids) is the first."""
    if request.query_params.get("page") == "true":
        return 1
    return page_number(request, maximum=MAX_PAGE)


async def _follow_collection(request: Request, *, followers: bool) -> Response:
    """``followers`` lists who follows the account; otherwise whom the account follows."""
    services: Services = request.state.services
    username = request.path_params["username"]
    urls = services.urls
    collection_id = urls.followers_url(username) if followers else urls.following_url(username)
    page = _page_number(request)
    async with _collection_of(request, username) as (session, actor, reader):
        mine, theirs = (
            (col(Follow.followee_id), col(Follow.follower_id))
            if followers
            else (col(Follow.follower_id), col(Follow.followee_id))
        )
        accepted = (mine == actor.id, col(Follow.state) == FollowState.ACCEPTED)
        total = actor.followers_count if followers else actor.following_count
        if page is None:
            return reader.respond(ordered_collection(collection_id, total, f"{collection_id}?page=1"))
        items = (
            await session.scalars(
                select(col(Actor.ap_id))
                .join(Follow, theirs == col(Actor.id))
                .where(*accepted)
                .order_by(col(Follow.id).desc())
                .offset((page - 1) * FOLLOWS_PAGE_SIZE)
                .limit(FOLLOWS_PAGE_SIZE)
            )
        ).all()
    has_next = page * FOLLOWS_PAGE_SIZE < total
    return reader.respond(
        ordered_collection_page(
            f"{collection_id}?page={page}",
            collection_id,
            items,
            total_items=total,
            next_page_id=f"{collection_id}?page={page + 1}" if has_next else None,
            prev_page_id=f"{collection_id}?page={page - 1}" if page > 1 else None,
        )
    )


async def followers(request: Request) -> Response:
    return await _follow_collection(request, followers=True)


async def following(request: Request) -> Response:
    return await _follow_collection(request, followers=False)


#: Public and unlisted posts of one author, as the outbox lists them.
_LISTED = (
    col(Post.author_id) == bindparam("author_id"),
    col(Post.deleted_at).is_(None),
    col(Post.visibility).in_([Visibility.PUBLIC, Visibility.UNLISTED]),
    col(Post.approval).is_(None),  # a reply waiting for its approval is not published yet (decision 0063)
)
_OUTBOX_FIRST = (
    select(Post).where(*_LISTED).order_by(col(Post.id).desc()).limit(OUTBOX_PAGE_SIZE).options(WITHOUT_RAW_POST)
)
_OUTBOX_BELOW = _OUTBOX_FIRST.where(col(Post.id) < bindparam("max_id"))


def _outbox_unit(
    session: Session, username: str, *, with_items: bool, max_id: int | None
) -> tuple[LocalActor, int, list[PostView]]:
    actor = local_actor(session, username)
    total = actor.posts_count  # public and unlisted posts not deleted, kept by the database (decision 0052)
    if not with_items:
        return actor, total, []
    query, params = _OUTBOX_FIRST, {"author_id": actor.id}
    if max_id is not None:
        query, params = _OUTBOX_BELOW, {"author_id": actor.id, "max_id": max_id}
    return actor, total, post_views(session, session.scalars(query, params).all())


async def outbox(request: Request) -> Response:
    """Public and unlisted posts as ``Create`` activities, newest first, paged by ``max_id``."""
    services: Services = request.state.services
    username = request.path_params["username"]
    collection_id = services.urls.outbox_url(username)
    page = _page_number(request)
    max_id = query_id(request, "max_id") if page is not None else None
    # Authorized fetch's gate before anything is looked up; the block check once the owner is known.
    await authorize_fetch(request)
    actor, total, views = await services.db.read(
        lambda session: _outbox_unit(session, username, with_items=page is not None, max_id=max_id)
    )
    reader = await authorize_read(request, actor.id, public=True)
    if page is None:
        return reader.respond(ordered_collection(collection_id, total, f"{collection_id}?page=true"), keep=True)
    items = [create_activity(view, services.urls, context=False) for view in views]
    page_id = f"{collection_id}?page=true" + (f"&max_id={max_id}" if max_id is not None else "")
    next_id = f"{collection_id}?page=true&max_id={views[-1].post.id}" if len(views) == OUTBOX_PAGE_SIZE else None
    return reader.respond(
        ordered_collection_page(page_id, collection_id, items, total_items=total, next_page_id=next_id), keep=True
    )


async def _empty_collection(request: Request, collection_id_for: Callable[[str], str]) -> Response:
    username = request.path_params["username"]
    collection_id = collection_id_for(username)
    async with _collection_of(request, username) as (_, _, reader):
        if _page_number(request) is None:
            return reader.respond(ordered_collection(collection_id, 0, f"{collection_id}?page=1"))
        return reader.respond(ordered_collection_page(f"{collection_id}?page=1", collection_id, [], total_items=0))


def _featured_unit(session: Session, username: str) -> tuple[LocalActor, list[PostView]]:
    actor = local_actor(session, username)
    ids = pinned_post_ids(session, actor.id, None)
    found = {
        post.id: post for post in session.scalars(select(Post).where(col(Post.id).in_(ids)).options(WITHOUT_RAW_POST))
    }
    return actor, post_views(session, [found[post_id] for post_id in ids if post_id in found])


async def featured(request: Request) -> Response:
    """Pinned posts, newest pin first, as Mastodon serves its ``featured`` collection: one
    ``OrderedCollection`` with the ``Note`` objects inline (at most five, so no pages)."""
    services: Services = request.state.services
    username = request.path_params["username"]
    _page_number(request)  # no pages here; a malformed ``page`` is still a 400, as on every collection
    await authorize_fetch(request)
    actor, views = await services.db.read(lambda session: _featured_unit(session, username))
    reader = await authorize_read(request, actor.id, public=True)
    items = [note_document(view, services.urls) for view in views]
    return reader.respond(ordered_collection_items(services.urls.featured_url(username), items))


async def featured_tags(request: Request) -> Response:
    """Featured hashtags (Mastodon fetches these after every profile update); none yet."""
    return await _empty_collection(request, request.state.services.urls.featured_tags_url)


routes = [
    Route("/actor", instance_actor),
    Route("/users/{username}", actor),
    Route("/users/{username}/outbox", outbox),
    Route("/users/{username}/followers", followers),
    Route("/users/{username}/following", following),
    Route("/users/{username}/collections/featured", featured),
    Route("/users/{username}/collections/tags", featured_tags),
]
