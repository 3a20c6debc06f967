"""Feeds: home (who you follow), local, federated and hashtag timelines.

A page request with ``HX-Request`` gets only the next slice of cards (the "older posts" link swaps
itself for it), so scrolling never reloads or jumps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.accounts import any_account
from fediverse.core.errors import NotFound
from fediverse.core.text import normalize_tag
from fediverse.reads.cards import load_cards
from fediverse.reads.filters import Screened, screen
from fediverse.reads.timelines import TimelinePage, home_timeline, public_timeline, tag_timeline
from fediverse.services import Services
from fediverse.web.pages.forms import is_htmx, see_other
from fediverse.web.params import query_id
from fediverse.web.rendering import render_page
from fediverse.web.sessions import current_account
from storage.models import Account

Loader = Callable[[AsyncSession, int | None], Awaitable[TimelinePage]]


async def render_feed(
    request: Request,
    account: Account | None,
    load: Loader,
    context: dict[str, object],
    *,
    filter_context: str,
    shareable: bool = False,
    template: str = "feed.html",
) -> Response:
    """A page of a feed, with the viewer's filters of ``filter_context`` applied (``reads.filters.screen``:
    hidden posts left out, the others matched behind a warning); the next page's link pages past them."""
    services: Services = request.state.services
    max_id = query_id(request, "max_id")
    viewer_actor_id = account.actor_id if account else None
    async with services.db.session() as session:
        page = await load(session, max_id)
        cards = await load_cards(session, services.urls, page.entries, viewer_actor_id)
        screened = (
            await session.run_sync(screen, account.id or 0, account.actor_id, cards, filter_context)
            if account is not None
            else Screened(cards, {})
        )
    next_url = f"{request.url.path}?{urlencode({'max_id': page.next_max_id})}" if page.next_max_id else None
    template = "partials/feed.html" if is_htmx(request) else template
    return await render_page(
        request,
        template,
        {"cards": screened.cards, "filter_warnings": screened.warnings, "next_url": next_url, **context},
        headers={"Vary": "HX-Request, Cookie"},
        shareable=shareable,
    )


async def home(request: Request) -> Response:
    account = await current_account(request)
    if account is None:
        return await _public(request, local_only=True, anonymous_home=True)

    async def load(session: AsyncSession, max_id: int | None) -> TimelinePage:
        return await home_timeline(session, account.actor_id, max_id=max_id)

    return await render_feed(
        request,
        account,
        load,
        {"heading": "Home", "empty_message": "Your home feed is quiet. Follow people, or post something yourself."},
        filter_context="home",
    )


async def _public(request: Request, *, local_only: bool, anonymous_home: bool = False) -> Response:
    services: Services = request.state.services
    if anonymous_home:
        async with services.db.session() as session:
            if not await any_account(session):
                return see_other("/setup")
    account = await current_account(request)
    viewer_actor_id = account.actor_id if account else None

    async def load(session: AsyncSession, max_id: int | None) -> TimelinePage:
        return await public_timeline(session, local_only=local_only, viewer_actor_id=viewer_actor_id, max_id=max_id)

    heading = "Local" if local_only else "Federated"
    subtitle = (
        f"Public posts from people on {services.urls.host}"
        if local_only
        else "Public posts from everyone this instance knows"
    )
    return await render_feed(
        request,
        account,
        load,
        {"heading": heading, "subtitle": subtitle, "empty_message": "Nothing here yet."},
        filter_context="public",
    )


async def local(request: Request) -> Response:
    return await _public(request, local_only=True)


async def federated(request: Request) -> Response:
    return await _public(request, local_only=False)


async def tag(request: Request) -> Response:
    name = normalize_tag(request.path_params["tag"])
    if not name or len(name) > 100:
        raise NotFound("No such hashtag.")
    account = await current_account(request)
    viewer_actor_id = account.actor_id if account else None

    async def load(session: AsyncSession, max_id: int | None) -> TimelinePage:
        return await tag_timeline(session, name, viewer_actor_id=viewer_actor_id, max_id=max_id)

    return await render_feed(
        request,
        account,
        load,
        {"heading": f"#{name}", "subtitle": "Public posts with this hashtag", "empty_message": "No posts yet."},
        filter_context="public",
        shareable=True,
    )


routes = [
    Route("/", home),
    Route("/local", local),
    Route("/federated", federated),
    Route("/tags/{tag}", tag),
]
