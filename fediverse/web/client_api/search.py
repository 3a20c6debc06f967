"""Search: ``/api/v2/search`` and ``/api/v1/accounts/search``.

Accounts match by name among the accounts we know; ``@name@host`` and profile URLs are found among them,
and with ``resolve=true`` (a signed-in caller only) looked up on their server through WebFinger and a
signed fetch, as our search page does. Statuses are found by URL only: a post we have, or with
``resolve=true`` one fetched from its server through the same safe fetcher; there is no full-text search
of posts. Hashtags match by the start of their name. What a caller may not see is never returned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from activitypub.errors import ActivityPubError, InvalidDocumentError
from fediverse.core.errors import BadRequest, ReverieError, Unauthorized
from fediverse.core.text import normalize_tag
from fediverse.core.visibility import may_see
from fediverse.reads.timelines import Entry, search_actors
from fediverse.services import Services
from fediverse.social import actions
from fediverse.web.client_api.account_lookup import actor_by_acct, actors_by_ids, shown
from fediverse.web.client_api.auth import optional_user, require_user
from fediverse.web.client_api.entities import Json, account, hashtag
from fediverse.web.client_api.paging import clamped_limit
from fediverse.web.client_api.params import Params, read_params
from fediverse.web.client_api.status_views import render_statuses
from fediverse.web.responses import JSONResponse
from storage.models import Account, Actor, Post, PostTag

log = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 500
MAX_OFFSET = 10_000
_TYPES = ("accounts", "statuses", "hashtags")


@dataclass(frozen=True)
class Query:
    text: str
    resolve: bool
    limit: int
    offset: int
    following: bool

    @property
    def is_url(self) -> bool:
        return self.text.startswith(("https://", "http://")) and " " not in self.text

    @property
    def is_handle(self) -> bool:
        return "@" in self.text.lstrip("@") and " " not in self.text and not self.is_url


def read_query(params: Params, viewer: Account | None) -> Query:
    text = params.text("q", max_length=MAX_QUERY_LENGTH)
    if text is None or not text.strip():
        raise BadRequest("Missing parameter: q.")
    query = Query(
        text=text.strip(),
        resolve=bool(params.flag("resolve")),
        limit=clamped_limit(params.raw("limit")),
        offset=params.integer("offset", default=0, minimum=0, maximum=MAX_OFFSET),
        following=bool(params.flag("following")),
    )
    if viewer is None and (query.resolve or query.offset):
        raise Unauthorized("Search queries that resolve remote resources or use pagination need a signed-in user.")
    return query


def _known_by_url(session: Session, url: str) -> tuple[Actor | None, Post | None]:
    post = session.scalar(
        select(Post).where(or_(col(Post.ap_id) == url, col(Post.url) == url), col(Post.deleted_at).is_(None)).limit(1)
    )
    if post is not None:
        return None, post
    actor = session.scalar(select(Actor).where(or_(col(Actor.ap_id) == url, col(Actor.url) == url), shown()).limit(1))
    return actor, None


async def _resolve_url(services: Services, url: str) -> tuple[Actor | None, Post | None]:
    """What a URL names on its server: a post, else an account (as our search page does)."""
    try:
        try:
            return None, await actions.find_post(services, url)
        except InvalidDocumentError:
            return await actions.find_actor(services, url), None
    except (ReverieError, ActivityPubError) as error:
        log.info("search: resolving %r failed: %s", url, error)
        return None, None


async def _resolve_handle(services: Services, handle: str) -> Actor | None:
    try:
        return await actions.find_actor(services, handle)
    except (ReverieError, ActivityPubError) as error:
        log.info("search: resolving %r failed: %s", handle, error)
        return None


async def _by_reference(services: Services, query: Query) -> tuple[list[Actor], list[Post]]:
    """An account or a post named by URL or handle: known ones, then (``resolve``) fetched ones."""
    if query.is_url:
        actor, post = await services.db.read(lambda session: _known_by_url(session, query.text))
        if actor is None and post is None and query.resolve:
            actor, post = await _resolve_url(services, query.text)
        return ([actor] if actor else []), ([post] if post else [])
    found = await services.db.read(lambda session: actor_by_acct(session, query.text, services.urls.host))
    if found is None and query.resolve:
        found = await _resolve_handle(services, query.text)
    return ([found] if found else []), []


async def _accounts(services: Services, query: Query, viewer: Account | None) -> list[Actor]:
    if query.is_url or query.is_handle:
        actors, _ = await _by_reference(services, query)
        candidates = actors if query.offset == 0 else []
    else:
        async with services.db.session() as session:
            candidates = await search_actors(
                session,
                query.text.lstrip("@"),
                limit=query.limit,
                offset=query.offset,
                followed_by=viewer.actor_id if viewer and query.following else None,
            )
    ids = [actor.id for actor in candidates if actor.id is not None]
    allowed = await services.db.read(lambda session: actors_by_ids(session, ids))
    return [allowed[actor_id] for actor_id in ids if actor_id in allowed]


async def _statuses(services: Services, query: Query, viewer: Account | None) -> list[Json]:
    """Posts by URL only (no full-text search), if the caller may see them."""
    if not query.is_url or query.offset:
        return []
    _, posts = await _by_reference(services, query)
    viewer_actor_id = viewer.actor_id if viewer else None
    visible = await services.db.read(
        lambda session: [post for post in posts if may_see(session, post, viewer_actor_id)]
    )
    return await render_statuses(services, viewer, [Entry(post.id, post.id) for post in visible])


def _tag_names(session: Session, prefix: str, limit: int, offset: int) -> list[str]:
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(
        session.scalars(
            select(col(PostTag.tag))
            .distinct()
            .where(col(PostTag.tag).like(pattern, escape="\\"))
            .order_by(col(PostTag.tag))
            .offset(offset)
            .limit(limit)
        )
    )


async def _hashtags(services: Services, query: Query) -> list[Json]:
    if query.is_url or query.is_handle:
        return []
    prefix = normalize_tag(query.text.lstrip("#").strip())
    if not prefix or " " in prefix:
        return []
    names = await services.db.read(lambda session: _tag_names(session, prefix, query.limit, query.offset))
    return [hashtag(name, services.urls) for name in names]


async def search_v2(request: Request) -> Response:
    """``q``, ``type`` (``accounts``, ``statuses``, ``hashtags``; any other gives empty lists, as in
    Mastodon), ``resolve``, ``following``, ``limit`` (1–40), ``offset``."""
    services: Services = request.state.services
    viewer = await optional_user(request, "read:search")
    params = await read_params(request)
    query = read_query(params, viewer)
    kind = params.text("type")
    wanted = set(_TYPES) if not kind else {kind} & set(_TYPES)
    found_accounts = await _accounts(services, query, viewer) if "accounts" in wanted else []
    document = {
        "accounts": [account(actor, services.urls) for actor in found_accounts],
        "statuses": await _statuses(services, query, viewer) if "statuses" in wanted else [],
        "hashtags": await _hashtags(services, query) if "hashtags" in wanted else [],
    }
    return JSONResponse(document)


async def search_accounts(request: Request) -> Response:
    """``/api/v1/accounts/search``: ``q``, ``resolve``, ``following``, ``limit``, ``offset``."""
    services: Services = request.state.services
    viewer = await require_user(request, "read:accounts")
    query = read_query(await read_params(request), viewer)
    return JSONResponse([account(actor, services.urls) for actor in await _accounts(services, query, viewer)])


routes: list[BaseRoute] = [
    Route("/api/v2/search", search_v2),
    Route("/api/v1/accounts/search", search_accounts),
]
