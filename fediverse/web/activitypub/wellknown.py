"""Discovery: WebFinger (RFC 7033), host-meta (RFC 6415), NodeInfo 2.0/2.1 and robots.txt."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from activitypub.errors import WebFingerError
from activitypub.nodeinfo import build_nodeinfo, build_nodeinfo_discovery
from activitypub.vocab import JRD_MEDIA_TYPE
from activitypub.webfinger import AccountResource, build_host_meta, build_jrd, parse_resource
from fediverse import __version__
from fediverse.core.accounts import USERNAME_PATTERN, account_state
from fediverse.core.errors import BadRequest, Gone, NotFound
from fediverse.core.instance_settings import get_instance_settings
from fediverse.core.urls import Urls
from fediverse.core.visibility import OPEN
from fediverse.services import Services
from fediverse.web.responses import JSONResponse
from storage.models import Account, Post
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
    username = local_username(resource, urls)
    if username == urls.host.lower():
        actor_id, profile_url = urls.instance_actor_id(), urls.absolute("/about")
    else:
        if not USERNAME_PATTERN.fullmatch(username):
            raise NotFound("No such account.")
        exists, disabled_at = await services.db.read(lambda session: account_state(session, username))
        if not exists:
            raise NotFound("No such account.")
        if disabled_at is not None:
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


async def nodeinfo(request: Request) -> Response:
    services: Services = request.state.services
    version = request.path_params["version"]
    if version not in ("2.0", "2.1"):
        raise NotFound("Unknown NodeInfo version.")
    now = utcnow()
    async with services.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(Account).where(Account.disabled_at.is_(None)))
        active = {
            days: await session.scalar(
                select(func.count()).select_from(Account).where(Account.last_active_at >= now - timedelta(days=days))
            )
            for days in (30, 180)
        }
        local_posts = await session.scalar(  # followers-only and direct posts are nobody else's business
            select(func.count())
            .select_from(Post)
            .where(Post.is_local.is_(True), Post.deleted_at.is_(None), Post.visibility.in_(OPEN))
        )
        instance = await get_instance_settings(session, services.settings)
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
