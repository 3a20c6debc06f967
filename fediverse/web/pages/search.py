"""Search: ``@user@host`` and post or profile URLs are looked up on their servers (WebFinger and a
signed fetch, for signed-in users); ``#tag`` opens the hashtag; other words match known accounts."""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitypub.errors import ActivityPubError, GoneError, InvalidDocumentError
from fediverse.core.errors import ReverieError
from fediverse.core.text import normalize_tag
from fediverse.core.visibility import can_see
from fediverse.reads.cards import PostCard, load_card
from fediverse.reads.timelines import search_actors
from fediverse.services import Services
from fediverse.social import actions
from fediverse.web.pages.forms import see_other
from fediverse.web.pages.profiles import Relationship, relationship
from fediverse.web.rendering import render_page
from fediverse.web.sessions import current_account
from storage.models import Account, Actor

log = logging.getLogger(__name__)
MAX_QUERY_LENGTH = 500


async def _lookup_remote(services: Services, query: str) -> tuple[Actor | None, PostCard | None, str | None]:
    """What a handle or URL names: an account, or a post; the third value is a message for the person."""
    try:
        if query.startswith(("https://", "http://")):
            try:
                post = await actions.find_post(services, query)
            except InvalidDocumentError:
                return await actions.find_actor(services, query), None, None
            async with services.db.session() as session:
                return None, await load_card(session, services.urls, post, None), None
        return await actions.find_actor(services, query), None, None
    except GoneError:
        return None, None, "That account or post has been deleted."
    except (ReverieError, ActivityPubError) as error:
        log.info("search for %r failed: %s", query, error)
        return None, None, f"Nothing found for {query}. Check the spelling, or the server may be unreachable."


async def search(request: Request) -> Response:
    services: Services = request.state.services
    account = await current_account(request)
    query = request.query_params.get("q", "").strip()[:MAX_QUERY_LENGTH]
    if query.startswith("#") and len(query) > 1:
        return see_other(f"/tags/{quote(normalize_tag(query[1:]))}")
    context: dict[str, object] = {"query": query, "actors": [], "card": None, "message": None}
    is_handle = query.count("@") >= 1 and "@" in query.lstrip("@") and " " not in query
    if query and (is_handle or query.startswith(("https://", "http://"))):
        if account is None:
            context["message"] = "Sign in to look up accounts and posts on other servers."
        else:
            actor, card, message = await _lookup_remote(services, query)
            context["message"] = message
            if actor is not None:
                context["actors"] = [actor]
            if card is not None:
                context["card"] = await _visible_card(services, card, account)
    elif query:
        async with services.db.session() as session:
            context["actors"] = await search_actors(session, query.lstrip("@"))
        if not context["actors"]:
            context["message"] = (
                f"No accounts here match {query}. To find someone elsewhere, type their full address: @name@server."
            )
    relations: dict[int, Relationship | None] = {}
    async with services.db.session() as session:
        for actor in context["actors"]:  # type: ignore[attr-defined]
            relations[actor.id] = await relationship(session, account.actor_id if account else None, actor)
    return await render_page(request, "search.html", {**context, "relations": relations})


async def _visible_card(services: Services, card: PostCard, account: Account) -> PostCard | None:
    async with services.db.session() as session:
        if not await can_see(session, card.post, account.actor_id):
            return None
        return await load_card(session, services.urls, card.post, account.actor_id)


routes = [Route("/search", search)]
