"""Discovery: WebFinger (RFC 7033), host-meta (RFC 6415), NodeInfo 2.0/2.1 and robots.txt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from activitypub.errors import WebFingerError
from activitypub.nodeinfo import build_nodeinfo, build_nodeinfo_discovery
from activitypub.vocab import JRD_MEDIA_TYPE
from activitypub.webfinger import AccountResource, build_host_meta, build_jrd, build_server_jrd, parse_resource
from fediverse import __version__
from fediverse.core.accounts import USERNAME_PATTERN, find_local_name
from fediverse.core.errors import BadRequest, Gone, NotFound
from fediverse.core.instance_settings import instance_settings
from fediverse.core.urls import Urls
from fediverse.services import Services
from fediverse.web.responses import JSONResponse
from storage.models import Account, Actor
from storage.types import utcnow

CORS = {"Access-Control-Allow-Origin": "*"}


def local_username(resource: str, urls: Urls) -> str:
    """The local username a WebFinger ``resource`` names (``acct:``, ``@user@host`` or one of our URLs).

    The instance actor is ``acct:HOST@HOST``, as Mastodon names its own.
    """
    if unquote(resource).strip().lower().removeprefix("acct:") == f"{urls.host}@{urls.host}".lower():
        return urls.host
    try:
        parsed = parse_resource(unquote(resource), urls.host)
    except WebFingerError as error:  # malformed, or another server's account
        raise BadRequest(str(error)) from error
    if isinstance(parsed, AccountResource):
        return parsed.username.lower()
    path = urlsplit(parsed.url).path
    if path == "/actor":
        return urls.host
    for prefix in ("/users/", "/@"):
        if path.startswith(prefix) and "/" not in path.removeprefix(prefix):
            return path.removeprefix(prefix).lower()
    raise NotFound("No such account.")


async def webfinger(request: Request) -> Response:
    services: Services = request.state.services
    urls = services.urls
    resource = request.query_params.get("resource")
    if not resource:
        raise BadRequest("the resource parameter is required")
    if unquote(resource).strip().rstrip("/").lower() == urls.base_url.rstrip("/").lower():
        # FEP-d556: the server's origin names its server-level actor
        server = build_server_jrd(
            subject=unquote(resource).strip(), actor_id=urls.instance_actor_id(), profile_url=urls.absolute("/about")
        )
        return JSONResponse(server, media_type=f"{JRD_MEDIA_TYPE}; charset=utf-8", headers=CORS)
    username = local_username(resource, urls)
    if username == urls.host.lower():
        actor_id, profile_url = urls.instance_actor_id(), urls.absolute("/about")
    else:
        if not USERNAME_PATTERN.fullmatch(username):
            raise NotFound("No such account.")
        account = await find_local_name(services.db, username)
        if account is None:
            raise NotFound("No such account.")
        if account.disabled:
            raise Gone("This account has been deleted.")
        actor_id, profile_url = urls.actor_id(username), urls.profile_url(username)
    document = build_jrd(
        username=username,
        domain=urls.host,
        actor_id=actor_id,
        profile_url=profile_url,
        subscribe_template=urls.authorize_interaction_template(),
    )
    return JSONResponse(document, media_type=f"{JRD_MEDIA_TYPE}; charset=utf-8", headers=CORS)


async def host_meta(request: Request) -> Response:
    urls: Urls = request.state.services.urls
    body = build_host_meta(urls.absolute("/.well-known/webfinger"))
    return Response(body, media_type="application/xrd+xml; charset=utf-8", headers=CORS)


async def nodeinfo_discovery(request: Request) -> Response:
    urls: Urls = request.state.services.urls
    return JSONResponse(build_nodeinfo_discovery(urls.base_url), headers=CORS)


@dataclass(frozen=True)
class _Usage:
    total: int
    active: dict[int, int]
    local_posts: int


def _usage(session: Session, *, now: datetime) -> _Usage:
    """NodeInfo's usage figures, in one unit of work."""
    total = session.scalar(select(func.count()).select_from(Account).where(col(Account.disabled_at).is_(None)))
    active = {
        days: session.scalar(
            select(func.count()).select_from(Account).where(col(Account.last_active_at) >= now - timedelta(days=days))
        )
        or 0
        for days in (30, 180)
    }
    # Public and unlisted posts (followers-only and direct ones are nobody else's business): the sum of
    # the local actors' counters (decision 0052) rather than a count of every local post.
    local_posts = session.scalar(
        select(func.coalesce(func.sum(col(Actor.posts_count)), 0)).where(col(Actor.is_local).is_(True))
    )
    return _Usage(total or 0, active, local_posts or 0)


async def nodeinfo(request: Request) -> Response:
    services: Services = request.state.services
    version = request.path_params["version"]
    if version not in ("2.0", "2.1"):
        raise NotFound("Unknown NodeInfo version.")
    counts = await services.db.read(partial(_usage, now=utcnow()))
    total, active, local_posts = counts.total, counts.active, counts.local_posts
    instance = await instance_settings(services.db, services.settings)
    document = build_nodeinfo(
        version,
        software_version=__version__,
        total_users=total or 0,
        active_month=active[30] or 0,
        active_halfyear=active[180] or 0,
        local_posts=local_posts or 0,
        open_registrations=instance.registrations == "open",
        metadata={"nodeName": instance.name, "nodeDescription": instance.description},
        homepage=services.settings.base_url,
    )
    return JSONResponse(document, headers=CORS)


async def robots(_request: Request) -> Response:
    return PlainTextResponse(
        "User-agent: *\nDisallow: /settings\nDisallow: /admin\nDisallow: /compose\nAllow: /\n",
        headers={"Cache-Control": "max-age=3600, public"},
    )


routes = [
    Route("/.well-known/webfinger", webfinger),
    Route("/.well-known/host-meta", host_meta),
    Route("/.well-known/nodeinfo", nodeinfo_discovery),
    Route("/nodeinfo/{version:str}", nodeinfo),
    Route("/robots.txt", robots),
]
