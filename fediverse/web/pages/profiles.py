"""Profiles (``/@name`` here, ``/@name@host`` for remote accounts we know), their follower lists,
following and unfollowing, "follow from your server", and ``/about``.

A local profile URL also serves the actor document to ActivityPub clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitypub.errors import ActivityPubError
from fediverse.core.config import is_loopback_host
from fediverse.core.errors import BadRequest, NotFound
from fediverse.core.instance_settings import instance_settings
from fediverse.reads.cards import PostCard, cards
from fediverse.reads.pins import pinned_post_ids
from fediverse.reads.post_views import WITHOUT_RAW_ACTOR
from fediverse.reads.timelines import Entry, TimelinePage, profile_page
from fediverse.services import Services
from fediverse.social import actions
from fediverse.web.activitypub.actors import account_and_actor, actor_response
from fediverse.web.pages.forms import (
    is_htmx,
    read_form_unchecked,
    render_with_form_token,
    safe_next,
    see_other,
    signed_in_form,
    target_field,
    text_field,
)
from fediverse.web.params import page_number, query_id
from fediverse.web.rendering import render_page
from fediverse.web.responses import wants_activity_json
from fediverse.web.sessions import check_form_token, current_account
from storage.models import Account, Actor, Block, Follow, FollowState, Mute

LIST_PAGE_SIZE = 40
MAX_LIST_PAGE = 10_000


@dataclass(frozen=True)
class Relationship:
    """How the viewer stands to a profile: ``none``, ``pending`` or ``following``; ``self`` for oneself.
    ``blocking``/``muting``: the viewer blocks or mutes them; ``blocked_by``: they block the viewer."""

    state: str
    follows_you: bool = False
    blocking: bool = False
    blocked_by: bool = False
    muting: bool = False


async def find_profile(session: AsyncSession, handle: str, local_host: str) -> tuple[Account | None, Actor]:
    """``profile_of`` on an async session."""
    return await session.run_sync(profile_of, handle, local_host)


def profile_of(session: Session, handle: str, local_host: str) -> tuple[Account | None, Actor]:
    """``name`` (local) or ``name@host`` (a remote account we already know)."""
    username, _, host = handle.partition("@")
    if not host or host.lower() == local_host.lower():
        account, actor = account_and_actor(session, username.lower())
        return account, actor
    remote = session.scalar(
        select(Actor)
        .where(col(Actor.username) == username, col(Actor.domain) == host.lower(), col(Actor.gone_at).is_(None))
        .options(WITHOUT_RAW_ACTOR)
    )
    if remote is None:
        raise NotFound(f"We do not know @{username}@{host} yet. Search for them to look them up.")
    return None, remote


async def relationship(session: AsyncSession, viewer_actor_id: int | None, actor: Actor) -> Relationship | None:
    """``relationship_of`` on an async session."""
    return await session.run_sync(relationship_of, viewer_actor_id, actor)


_FOLLOW_STATE = select(col(Follow.state)).where(
    col(Follow.follower_id) == bindparam("follower"), col(Follow.followee_id) == bindparam("followee")
)
_BLOCKS = select(col(Block.id)).where(
    col(Block.blocker_id) == bindparam("blocker"), col(Block.blocked_id) == bindparam("blocked")
)
_MUTES = select(col(Mute.id)).where(col(Mute.muter_id) == bindparam("muter"), col(Mute.muted_id) == bindparam("muted"))


def relationship_of(session: Session, viewer_actor_id: int | None, actor: Actor) -> Relationship | None:
    """How the viewer stands to ``actor`` (``None`` for a visitor who is not signed in)."""
    if viewer_actor_id is None:
        return None
    if viewer_actor_id == actor.id:
        return Relationship("self")
    connection = session.connection()
    follow = connection.execute(_FOLLOW_STATE, {"follower": viewer_actor_id, "followee": actor.id}).scalar()
    back = connection.execute(_FOLLOW_STATE, {"follower": actor.id, "followee": viewer_actor_id}).scalar()
    state = "none" if follow is None else "following" if follow == FollowState.ACCEPTED else "pending"
    return Relationship(
        state,
        follows_you=back == FollowState.ACCEPTED,
        blocking=connection.execute(_BLOCKS, {"blocker": viewer_actor_id, "blocked": actor.id}).first() is not None,
        blocked_by=connection.execute(_BLOCKS, {"blocker": actor.id, "blocked": viewer_actor_id}).first() is not None,
        muting=connection.execute(_MUTES, {"muter": viewer_actor_id, "muted": actor.id}).first() is not None,
    )


async def load_relationship(session: AsyncSession, viewer_actor_id: int, ap_id: str) -> tuple[Actor, Relationship]:
    """A known actor by id and how the viewer stands to it (for buttons that swap in place)."""
    actor = await session.scalar(select(Actor).where(col(Actor.ap_id) == ap_id))
    if actor is None:
        raise NotFound("No such account.")
    relation = await relationship(session, viewer_actor_id, actor)
    assert relation is not None
    return actor, relation


def _counts(actor: Actor) -> dict[str, int]:
    """Kept in the actor's row by the database (decision 0052): what we store of a remote account."""
    return {"posts": actor.posts_count, "followers": actor.followers_count, "following": actor.following_count}


@dataclass(frozen=True)
class _ProfileRead:
    account: Account | None
    actor: Actor
    page: TimelinePage
    cards: list[PostCard]
    pinned: list[PostCard]
    counts: dict[str, int]
    relation: Relationship | None
    moved_to: Actor | None = None  # the account this one moved to, when we know it (decision 0061)


def _profile_unit(
    session: Session, services: Services, handle: str, viewer_actor_id: int | None, max_id: int | None
) -> _ProfileRead:
    account, actor = profile_of(session, handle, services.urls.host)
    page = profile_page(session, actor.id or 0, viewer_actor_id, max_id=max_id, limit=24)
    return _ProfileRead(
        account=account,
        actor=actor,
        page=page,
        cards=cards(session, services.urls, page.entries, viewer_actor_id),
        pinned=_pinned(session, services, actor, viewer_actor_id) if max_id is None else [],
        counts=_counts(actor),
        relation=relationship_of(session, viewer_actor_id, actor),
        moved_to=_moved_to(session, actor),
    )


def _pinned(session: Session, services: Services, actor: Actor, viewer_actor_id: int | None) -> list[PostCard]:
    """The pinned posts shown above the others (a remote account's as its ``featured`` collection says)."""
    if actor.id is None:
        return []
    ids = pinned_post_ids(session, actor.id, viewer_actor_id)
    return cards(session, services.urls, [Entry(post_id, post_id) for post_id in ids], viewer_actor_id)


_BY_AP_ID = select(Actor).where(col(Actor.ap_id) == bindparam("ap_id")).options(WITHOUT_RAW_ACTOR)


def _moved_to(session: Session, actor: Actor) -> Actor | None:
    if not actor.moved_to_ap_id:
        return None
    return session.scalar(_BY_AP_ID, {"ap_id": actor.moved_to_ap_id})


async def profile(request: Request) -> Response:
    services: Services = request.state.services
    handle = request.path_params["handle"]
    if wants_activity_json(request) and "@" not in handle:
        return await actor_response(request, handle.lower())
    viewer = await current_account(request)
    viewer_actor_id = viewer.actor_id if viewer else None
    max_id = query_id(request, "max_id")
    found = await services.db.read(lambda session: _profile_unit(session, services, handle, viewer_actor_id, max_id))
    page = found.page
    next_url = f"{request.url.path}?{urlencode({'max_id': page.next_max_id})}" if page.next_max_id else None
    context = {"account": found.account, "actor": found.actor, "cards": found.cards, "next_url": next_url}
    if is_htmx(request):
        return await render_page(
            request, "partials/grid.html", context, headers={"Vary": "HX-Request, Cookie"}, shareable=True
        )
    return await render_with_form_token(
        request,
        "profile.html",
        {
            **context,
            "pinned": found.pinned,
            "counts": found.counts,
            "relationship": found.relation,
            "moved_to": found.moved_to,
            "next": request.url.path,
            "reported": request.query_params.get("reported") == "1",
        },
        headers={"Vary": "Accept, HX-Request, Cookie"},
        shareable=True,
    )


async def follow_list(request: Request) -> Response:
    """``/@name/followers`` and ``/@name/following``; the owner gets remove and unfollow buttons."""
    services: Services = request.state.services
    which = request.path_params["which"]
    if which not in ("followers", "following"):
        raise NotFound()
    viewer = await current_account(request)
    page = page_number(request, maximum=MAX_LIST_PAGE) or 1
    async with services.db.session() as session:
        account, actor = await find_profile(session, request.path_params["handle"], services.urls.host)
        if account is None:
            raise NotFound("Follower lists are shown for accounts on this instance.")
        is_owner = viewer is not None and viewer.id == account.id
        mine, theirs = (
            (col(Follow.followee_id), col(Follow.follower_id))
            if which == "followers"
            else (
                col(Follow.follower_id),
                col(Follow.followee_id),
            )
        )
        query = select(Actor, col(Follow.state)).join(Follow, theirs == col(Actor.id)).where(mine == actor.id)
        if not is_owner:
            query = query.where(col(Follow.state) == FollowState.ACCEPTED)
        rows = (
            await session.execute(
                query.order_by(col(Follow.id).desc()).offset((page - 1) * LIST_PAGE_SIZE).limit(LIST_PAGE_SIZE + 1)
            )
        ).all()
    people = [(row[0], row[1]) for row in rows[:LIST_PAGE_SIZE]]
    return await render_page(
        request,
        "follow_list.html",
        {
            "account": account,
            "actor": actor,
            "which": which,
            "people": people,
            "is_owner": is_owner,
            "page_number": page,
            "has_more": len(rows) > LIST_PAGE_SIZE,
        },
    )


async def follow(request: Request) -> Response:
    """``POST /follow`` and ``/unfollow`` with ``target`` (an actor id): the button swaps in place."""
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    target = target_field(form)
    if request.url.path == "/unfollow":
        await actions.unfollow(services, account.username, target)
    else:
        await actions.follow(services, account.username, target)
    if is_htmx(request):
        async with services.db.session() as session:
            actor, relation = await load_relationship(session, account.actor_id, target)
        return await render_page(request, "partials/follow_button.html", {"actor": actor, "relationship": relation})
    return see_other(safe_next(form.get("next")))


async def answer_follower(request: Request) -> Response:
    """The owner approves a follow request, or removes a follower (rejecting a request)."""
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    target = text_field(form, "target", max_length=2048)
    approve = request.url.path.endswith("/approve")
    await actions.answer_follow_request(services, account.username, target, approve=approve)
    return see_other(safe_next(form.get("next"), f"/@{account.username}/followers"))


async def remote_follow(request: Request) -> Response:
    """A visitor from another server types their handle; we send them to their own server to follow."""
    services: Services = request.state.services
    form = await read_form_unchecked(request)
    check_form_token(request, str(form.get("form_token", "")))
    async with services.db.session() as session:
        _, actor = await find_profile(session, request.path_params["handle"], services.urls.host)
    their_handle = text_field(form, "handle", max_length=300).lstrip("@")
    if "@" not in their_handle:
        raise BadRequest("Type your full address, like you@mastodon.social.")
    _, _, host = their_handle.rpartition("@")
    try:
        finger = await services.remote.finger(their_handle)
        template = finger.subscribe_template
    except ActivityPubError:
        template = None
    if template is None:  # Mastodon, Pixelfed and GoToSocial all answer this path
        loopback = services.settings.allow_private_addresses and is_loopback_host(host.rsplit(":", 1)[0])
        scheme = "http" if loopback else "https"
        template = f"{scheme}://{host}/authorize_interaction?uri={{uri}}"
    target = template.replace("{uri}", quote(actor.ap_id, safe=""))
    return see_other(target)


async def authorize_interaction(request: Request) -> Response:
    """Where other servers send people who want to follow or answer something from their account here."""
    uri = request.query_params.get("uri", "").strip()
    target = f"/search?{urlencode({'q': uri})}"
    if await current_account(request) is None:
        return see_other(f"/login?{urlencode({'next': target})}")
    return see_other(target)


async def about(request: Request) -> Response:
    services: Services = request.state.services
    instance = await instance_settings(services.db, services.settings)
    return await render_page(request, "about.html", {"instance": instance})


routes = [
    Route("/@{handle}", profile),
    Route("/@{handle}/{which:str}", follow_list, name="follow_list"),
    Route("/@{handle}/remote-follow", remote_follow, methods=["POST"]),
    Route("/follow", follow, methods=["POST"]),
    Route("/unfollow", follow, methods=["POST"]),
    Route("/followers/remove", answer_follower, methods=["POST"]),
    Route("/followers/approve", answer_follower, methods=["POST"]),
    Route("/authorize_interaction", authorize_interaction),
    Route("/about", about),
]
