"""Profiles (``/@name`` here, ``/@name@host`` for remote accounts we know), their follower lists,
following and unfollowing, "follow from your server", and ``/about``.

A local profile URL also serves the actor document to ActivityPub clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitypub.errors import ActivityPubError
from fediverse.core.config import is_loopback_host
from fediverse.core.errors import BadRequest, NotFound
from fediverse.core.instance_settings import instance_settings
from fediverse.reads.cards import load_cards
from fediverse.reads.timelines import profile_timeline
from fediverse.services import Services
from fediverse.social import actions
from fediverse.social.blocks import find_block, find_mute
from fediverse.social.follows import find_follow
from fediverse.web.activitypub.actors import actor_response, load_account
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
from storage.models import Account, Actor, Follow, FollowState

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
    """``name`` (local) or ``name@host`` (a remote account we already know)."""
    username, _, host = handle.partition("@")
    if not host or host.lower() == local_host.lower():
        account, actor = await load_account(session, username.lower())
        return account, actor
    remote = await session.scalar(
        select(Actor).where(
            col(Actor.username) == username, col(Actor.domain) == host.lower(), col(Actor.gone_at).is_(None)
        )
    )
    if remote is None:
        raise NotFound(f"We do not know @{username}@{host} yet. Search for them to look them up.")
    return None, remote


async def relationship(session: AsyncSession, viewer_actor_id: int | None, actor: Actor) -> Relationship | None:
    if viewer_actor_id is None:
        return None
    if viewer_actor_id == actor.id:
        return Relationship("self")
    viewer = await session.get(Actor, viewer_actor_id)
    assert viewer is not None
    follow = await find_follow(session, viewer, actor)
    back = await find_follow(session, actor, viewer)
    state = "none" if follow is None else "following" if follow.state == FollowState.ACCEPTED else "pending"
    return Relationship(
        state,
        follows_you=back is not None and back.state == FollowState.ACCEPTED,
        blocking=await find_block(session, viewer, actor) is not None,
        blocked_by=await find_block(session, actor, viewer) is not None,
        muting=await find_mute(session, viewer, actor) is not None,
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


async def profile(request: Request) -> Response:
    services: Services = request.state.services
    handle = request.path_params["handle"]
    if wants_activity_json(request) and "@" not in handle:
        return await actor_response(request, handle.lower())
    viewer = await current_account(request)
    viewer_actor_id = viewer.actor_id if viewer else None
    max_id = query_id(request, "max_id")
    async with services.db.session() as session:
        account, actor = await find_profile(session, handle, services.urls.host)
        page = await profile_timeline(session, actor.id or 0, viewer_actor_id, max_id=max_id, limit=24)
        cards = await load_cards(session, services.urls, page.entries, viewer_actor_id)
        counts = _counts(actor)
        relation = await relationship(session, viewer_actor_id, actor)
    next_url = f"{request.url.path}?{urlencode({'max_id': page.next_max_id})}" if page.next_max_id else None
    context = {"account": account, "actor": actor, "cards": cards, "next_url": next_url}
    if is_htmx(request):
        return await render_page(
            request, "partials/grid.html", context, headers={"Vary": "HX-Request, Cookie"}, shareable=True
        )
    return await render_with_form_token(
        request,
        "profile.html",
        {
            **context,
            "counts": counts,
            "relationship": relation,
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
