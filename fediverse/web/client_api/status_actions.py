"""What a caller does to a status — favourite, reblog, bookmark and their undoing — and who favourited,
reblogged or quoted it (docs/client-api.md).

Each goes through ``fediverse.social.actions`` as our pages do (``Like``, ``Announce`` and their ``Undo``
federate from there), on the post a status id names: a boost's id acts on the boosted post, as in Mastodon.
Each answers the status as the caller now sees it; a reblog answers the caller's boost wrapping the post.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse.core.visibility import visible_to
from fediverse.reads.post_views import WITHOUT_RAW_ACTOR
from fediverse.reads.timelines import Entry, Window, in_window
from fediverse.services import Services
from fediverse.social import actions
from fediverse.web.client_api.auth import optional_user, require_user
from fediverse.web.client_api.entities import account
from fediverse.web.client_api.paging import link_header, page_of
from fediverse.web.client_api.status_views import render_status, render_statuses
from fediverse.web.client_api.statuses import find_status, visible_target
from fediverse.web.params import path_id
from fediverse.web.responses import JSONResponse
from storage.columns import key_col
from storage.models import Actor, Announce, Like, Post, QuoteState

Action = Callable[[Services, str, str], Awaitable[object]]

#: verb -> (scope, action)
_ACTIONS: dict[str, tuple[str, Action]] = {
    "favourite": ("write:favourites", actions.like),
    "unfavourite": ("write:favourites", actions.unlike),
    "unreblog": ("write:statuses", actions.unboost),
    "bookmark": ("write:bookmarks", actions.bookmark),
    "unbookmark": ("write:bookmarks", actions.unbookmark),
}


async def act_on_status(request: Request) -> Response:
    """``POST /api/v1/statuses/:id/{favourite,unfavourite,unreblog,bookmark,unbookmark}``."""
    verb = request.url.path.rsplit("/", 1)[1]
    scope, action = _ACTIONS[verb]
    caller = await require_user(request, scope)
    services: Services = request.state.services
    post = (await find_status(request, caller)).post
    await action(services, caller.username, post.ap_id)
    return JSONResponse(await render_status(services, caller, post))


async def reblog(request: Request) -> Response:
    """Boost the post; the answer is the caller's boost, with the post as its ``reblog``."""
    caller = await require_user(request, "write:statuses")
    services: Services = request.state.services
    post = (await find_status(request, caller)).post
    boost = await actions.boost(services, caller.username, post.ap_id)
    (wrapper,) = await render_statuses(services, caller, [_boost_entry(boost)])
    return JSONResponse(wrapper)


def _boost_entry(boost: Announce) -> Entry:
    return Entry(boost.id, boost.post_id, boost.actor_id)


def _people_query(model: type[Like] | type[Announce], post_id: int, window: Window, limit: int) -> Select[int, Actor]:
    query: Select[int, Actor] = (
        select(key_col(model.id), Actor)
        .join(Actor, col(Actor.id) == col(model.actor_id))
        .where(col(model.post_id) == post_id, col(Actor.gone_at).is_(None))
        .options(WITHOUT_RAW_ACTOR)
    )
    return in_window(query, key_col(model.id), window, limit)


async def _people(request: Request, model: type[Like] | type[Announce]) -> Response:
    """The accounts that favourited (``Like``) or reblogged (``Announce``) a status, newest first, paged by
    the ids of those rows."""
    viewer = await optional_user(request)
    services: Services = request.state.services
    status_id = path_id(request)
    page = page_of(request)
    window = Window(page.max_id, page.since_id, page.min_id)

    def load(session: Session) -> list[tuple[int, Actor]]:
        post = visible_target(session, status_id, viewer).post
        rows = [
            (int(row_id), actor) for row_id, actor in session.execute(_people_query(model, post.id, window, page.limit))
        ]
        return rows[::-1] if window.oldest_first else rows

    rows = await services.db.read(load)
    return JSONResponse(
        [account(actor, services.urls) for _, actor in rows],
        headers=link_header(request, [row_id for row_id, _ in rows]),
    )


async def favourited_by(request: Request) -> Response:
    return await _people(request, Like)


async def reblogged_by(request: Request) -> Response:
    return await _people(request, Announce)


async def quotes(request: Request) -> Response:
    """``GET /api/v1/statuses/:id/quotes`` (Mastodon 4.5): the approved quotes of a status the caller may
    see that the caller may see too, newest first, paged by the quoting posts' ids."""
    viewer = await optional_user(request)
    services: Services = request.state.services
    status_id = path_id(request)
    page = page_of(request)
    window = Window(page.max_id, page.since_id, page.min_id)
    viewer_actor_id = viewer.actor_id if viewer else None

    def load(session: Session) -> list[int]:
        quoted = visible_target(session, status_id, viewer).post
        query = select(key_col(Post.id)).where(
            col(Post.quote_ap_id) == quoted.ap_id,
            col(Post.deleted_at).is_(None),
            or_(col(Post.quote_state).is_(None), col(Post.quote_state) == QuoteState.ACCEPTED),
            visible_to(viewer_actor_id),
        )
        ids = [int(post_id) for post_id in session.scalars(in_window(query, key_col(Post.id), window, page.limit))]
        return ids[::-1] if window.oldest_first else ids

    ids = await services.db.read(load)
    statuses = await render_statuses(services, viewer, [Entry(post_id, post_id) for post_id in ids])
    return JSONResponse(statuses, headers=link_header(request, ids))


routes: list[BaseRoute] = [
    *(Route(f"/api/v1/statuses/{{id:id}}/{verb}", act_on_status, methods=["POST"]) for verb in _ACTIONS),
    Route("/api/v1/statuses/{id:id}/reblog", reblog, methods=["POST"]),
    Route("/api/v1/statuses/{id:id}/favourited_by", favourited_by, methods=["GET"]),
    Route("/api/v1/statuses/{id:id}/reblogged_by", reblogged_by, methods=["GET"]),
    Route("/api/v1/statuses/{id:id}/quotes", quotes, methods=["GET"]),
]
