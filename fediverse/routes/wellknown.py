"""Discovery: WebFinger (RFC 7033), host-meta (RFC 6415), NodeInfo 2.0/2.1 and robots.txt."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from activitypub.vocab import AS2_MEDIA_TYPE, JRD_MEDIA_TYPE
from fediverse import __version__
from fediverse.accounts import USERNAME_PATTERN
from fediverse.errors import BadRequest, Gone, NotFound
from fediverse.instance import get_instance_settings
from fediverse.responses import JSONResponse
from fediverse.services import Services
from fediverse.urls import Urls
from storage.models import Account, Post
from storage.types import utcnow

NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/{version}"
CORS = {"Access-Control-Allow-Origin": "*"}


def parse_local_resource(resource: str, urls: Urls) -> str:
    """The local username a WebFinger ``resource`` names; ``BadRequest`` if malformed or foreign.

    Accepts ``acct:user@host`` (RFC 7565), the actor id and the profile URL.
    """
    resource = unquote(resource.strip())
    if resource.startswith("acct:"):
        username, separator, host = resource.removeprefix("acct:").lstrip("@").rpartition("@")
        if not separator or not username:
            raise BadRequest("resource must look like acct:user@host")
        if host.lower() != urls.host.lower():
            raise BadRequest("resource is not on this server")
        return username.lower()
    if resource.startswith(("https://", "http://")):
        if not urls.is_local(resource):
            raise BadRequest("resource is not on this server")
        path = urlsplit(resource).path
        if path == "/actor":
            return urls.host
        for prefix in ("/users/", "/@"):
            if path.startswith(prefix) and "/" not in path.removeprefix(prefix):
                return path.removeprefix(prefix).lower()
        raise NotFound("No such account.")
    raise BadRequest("resource must be an acct: URI or an actor URL")


def webfinger_document(
    username: str, actor_id: str, urls: Urls, *, is_instance_actor: bool = False
) -> dict[str, object]:
    """Mastodon's JRD shape (app/serializers/webfinger_serializer.rb)."""
    profile = urls.absolute("/about") if is_instance_actor else urls.profile_url(username)
    return {
        "subject": f"acct:{username}@{urls.host}",
        "aliases": [profile, actor_id],
        "links": [
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": profile},
            {"rel": "self", "type": AS2_MEDIA_TYPE, "href": actor_id},
            {"rel": "http://ostatus.org/schema/1.0/subscribe", "template": urls.authorize_interaction_template()},
        ],
    }


async def webfinger(request: Request) -> Response:
    services: Services = request.state.services
    urls = services.urls
    resource = request.query_params.get("resource")
    if not resource:
        raise BadRequest("the resource parameter is required")
    username = parse_local_resource(resource, urls)
    if username == urls.host.lower():
        document = webfinger_document(urls.host, urls.instance_actor_id(), urls, is_instance_actor=True)
    else:
        if not USERNAME_PATTERN.fullmatch(username):
            raise NotFound("No such account.")
        async with services.db.session() as session:
            account = await session.scalar(select(Account).where(Account.username == username))
        if account is None:
            raise NotFound("No such account.")
        if account.disabled_at is not None:
            raise Gone("This account has been deleted.")
        document = webfinger_document(username, urls.actor_id(username), urls)
    return JSONResponse(document, media_type=f"{JRD_MEDIA_TYPE}; charset=utf-8", headers=CORS)


async def host_meta(request: Request) -> Response:
    urls: Urls = request.state.services.urls
    template = urls.absolute("/.well-known/webfinger?resource={uri}")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{template}"/>\n'
        "</XRD>\n"
    )
    return Response(body, media_type="application/xrd+xml; charset=utf-8", headers=CORS)


async def nodeinfo_discovery(request: Request) -> Response:
    urls: Urls = request.state.services.urls
    links = [
        {"rel": NODEINFO_SCHEMA.format(version=version), "href": urls.absolute(f"/nodeinfo/{version}")}
        for version in ("2.0", "2.1")
    ]
    return JSONResponse({"links": links}, headers=CORS)


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
        local_posts = await session.scalar(
            select(func.count()).select_from(Post).where(Post.is_local.is_(True), Post.deleted_at.is_(None))
        )
        instance = await get_instance_settings(session, services.settings)
    software: dict[str, str] = {"name": "reverie", "version": __version__}
    if version == "2.1":
        software["homepage"] = services.settings.base_url
    document = {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"outbound": [], "inbound": []},
        "usage": {
            "users": {
                "total": total or 0,
                "activeMonth": active[30] or 0,
                "activeHalfyear": active[180] or 0,
            },
            "localPosts": local_posts or 0,
        },
        "openRegistrations": instance.registrations == "open",
        "metadata": {"nodeName": instance.name, "nodeDescription": instance.description},
    }
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
