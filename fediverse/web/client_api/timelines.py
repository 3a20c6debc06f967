"""Timelines (``home``, ``public``, ``tag/:hashtag``) and the caller's favourites and bookmarks
(docs/client-api.md).

Each reads ``fediverse.reads.timelines`` — the feeds our pages show, under the same visibility, block and
mute rules — in the window the client asks for (``max_id``, ``since_id``, ``min_id``, ``limit``), and
answers the statuses with a ``Link`` header. Timeline entries are keyed by post and boost ids (a boost's
status id); favourites and bookmarks by the ``Like`` and ``Bookmark`` rows' ids, as Mastodon pages them.
"""

from __future__ import annotations

from typing import TypedDict

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse.core.text import normalize_tag
from fediverse.reads.timelines import (
    TimelinePage,
    Window,
    bookmarks_page,
    favourites_page,
    home_timeline,
    public_timeline,
    tag_timeline,
)
from fediverse.services import Services
from fediverse.web.client_api.auth import optional_user, require_user
from fediverse.web.client_api.errors import RecordNotFound
from fediverse.web.client_api.paging import Page, link_header, page_of
from fediverse.web.client_api.params import query_params
from fediverse.web.client_api.status_views import render_statuses
from fediverse.web.responses import JSONResponse
from storage.models import Account

#: Longest hashtag we look up (``PostTag.tag`` holds 255).
MAX_TAG_LENGTH = 255
MAX_ANY_TAGS = 4


def _window(page: Page) -> Window:
    return Window(page.max_id, page.since_id, page.min_id)


async def _answer(request: Request, viewer: Account | None, timeline: TimelinePage) -> Response:
    services: Services = request.state.services
    statuses = await render_statuses(services, viewer, timeline.entries)
    return JSONResponse(statuses, headers=link_header(request, [entry.entry_id for entry in timeline.entries]))


async def home(request: Request) -> Response:
    viewer = await require_user(request, "read:statuses")
    services: Services = request.state.services
    page = page_of(request)
    async with services.db.session() as session:
        timeline = await home_timeline(
            session, viewer.actor_id, max_id=page.max_id, since_id=page.since_id, min_id=page.min_id, limit=page.limit
        )
    return await _answer(request, viewer, timeline)


class _PublicOptions(TypedDict):
    local_only: bool
    remote_only: bool
    with_media_only: bool
    viewer_actor_id: int | None
    max_id: int | None
    since_id: int | None
    min_id: int | None
    limit: int


def _public_options(request: Request, viewer: Account | None) -> _PublicOptions:
    """What the public and hashtag timelines both take: ``local``, ``remote``, ``only_media``, the viewer and
    the page."""
    query, page = query_params(request), page_of(request)
    return {
        "local_only": bool(query.flag("local")),
        "remote_only": bool(query.flag("remote")),
        "with_media_only": bool(query.flag("only_media")),
        "viewer_actor_id": viewer.actor_id if viewer else None,
        "max_id": page.max_id,
        "since_id": page.since_id,
        "min_id": page.min_id,
        "limit": page.limit,
    }


async def public(request: Request) -> Response:
    """Public top-level posts: everyone's, ``local`` ones, or ``remote`` ones; ``only_media`` with images."""
    viewer = await optional_user(request)
    services: Services = request.state.services
    options = _public_options(request, viewer)
    async with services.db.session() as session:
        timeline = await public_timeline(session, **options)
    return await _answer(request, viewer, timeline)


def _tag(name: str) -> str:
    tag = normalize_tag(name.lstrip("#"))
    if not tag or len(tag) > MAX_TAG_LENGTH:
        raise RecordNotFound()
    return tag


async def hashtag(request: Request) -> Response:
    """Public posts with the hashtag (or any of ``any[]``); ``local``, ``remote`` and ``only_media`` as for
    the public timeline."""
    viewer = await optional_user(request)
    services: Services = request.state.services
    tag = _tag(request.path_params["hashtag"])
    wanted = query_params(request).strings("any")[:MAX_ANY_TAGS]
    any_of = [normalize_tag(name.lstrip("#"))[:MAX_TAG_LENGTH] for name in wanted]
    options = _public_options(request, viewer)
    async with services.db.session() as session:
        timeline = await tag_timeline(session, tag, any_of=[name for name in any_of if name], **options)
    return await _answer(request, viewer, timeline)


async def favourites(request: Request) -> Response:
    viewer = await require_user(request, "read:favourites")
    services: Services = request.state.services
    page = page_of(request)
    window = _window(page)
    timeline = await services.db.read(lambda session: favourites_page(session, viewer.actor_id, window, page.limit))
    return await _answer(request, viewer, timeline)


async def bookmarks(request: Request) -> Response:
    viewer = await require_user(request, "read:bookmarks")
    services: Services = request.state.services
    page = page_of(request)
    window, account_id = _window(page), viewer.id or 0
    timeline = await services.db.read(
        lambda session: bookmarks_page(session, account_id, viewer.actor_id, window, page.limit)
    )
    return await _answer(request, viewer, timeline)


routes: list[BaseRoute] = [
    Route("/api/v1/timelines/home", home, methods=["GET"]),
    Route("/api/v1/timelines/public", public, methods=["GET"]),
    Route("/api/v1/timelines/tag/{hashtag}", hashtag, methods=["GET"]),
    Route("/api/v1/favourites", favourites, methods=["GET"]),
    Route("/api/v1/bookmarks", bookmarks, methods=["GET"]),
]
