"""``GET /media/{key}``: stored image files, content-addressed; ``GET /media/remote/{id}/{variant}``: a remote
file from our cache, fetched first when it is not cached (decision 0059).

The key names the SHA-256 of the bytes, so it doubles as a strong ``ETag``; a malformed key is a 404
(and can never reach outside the media folder, see ``storage.media.check_key``).

Who gets a file is ``fediverse.core.media_access``'s (decision 0047). A public file (of a public or unlisted
post, an avatar, a header) is for anyone and cacheable forever. A restricted one (only in followers-only
or direct posts, or a draft) is refused (404) to a signed-in viewer, or a signing actor, who may not see
any post it is in; a request with neither is served, because the unguessable URL is the capability
(Mastodon fetches attachments unsigned). Restricted and unused files are ``private, no-cache``: no shared
cache keeps them, and a browser asks again (a cheap 304) before each reuse.

A remote file (an attachment, avatar, header or emoji of another server) is shown through
``/media/remote/{id}/{variant}`` until pages can name its cached key: served from the cache when it is
there; otherwise fetched now (the worker's fetch, claimed here, as Mastodon's media proxy does), or ``503``
with ``Retry-After`` while another process fetches it. Only the URL its own row records is ever fetched,
so this is no open proxy. Ids can be guessed, unlike keys: a file of only followers-only or direct posts
goes to nobody who is not signed in or signing. A file given up for good (gone, too large, not an image)
is a ``404``.
"""

from __future__ import annotations

import asyncio
import os

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from activitypub.errors import ActivityPubError
from fediverse.core.errors import NotFound, ReverieError
from fediverse.core.media_access import (
    FileReach,
    FileUse,
    file_use,
    remote_file_use,
    signer_may_fetch,
    viewer_may_fetch,
)
from fediverse.federation.media_cache import Waiting, fetch_on_demand
from fediverse.services import Services
from fediverse.web.activitypub.signed_fetch import verify_fetcher
from fediverse.web.params import path_id
from fediverse.web.sessions import current_account
from storage.media import MediaKeyError, mime_of_key
from storage.models import Media, MediaState

IMMUTABLE = "public, max-age=31536000, immutable"
PRIVATE = "private, no-cache"
#: A remote file at its stable URL: the same picture for as long as it exists, but not "immutable" (it
#: may yet turn out to be gone).
REMOTE_PUBLIC = "public, max-age=86400"
VARIANTS = {"original": "original_key", "display": "display_key", "thumbnail": "thumbnail_key"}


async def media_file(request: Request) -> Response:
    services: Services = request.state.services
    key = request.path_params["key"]
    try:
        mime_of_key(key)
    except MediaKeyError:
        raise NotFound("No such file.") from None
    async with services.db.session() as session:
        use = await file_use(session, key)
    if use.reach == FileReach.RESTRICTED and not await _may_fetch(request, use):
        raise NotFound("No such file.")
    return await _file_response(request, services, key, IMMUTABLE if use.reach == FileReach.PUBLIC else PRIVATE)


async def remote_media_file(request: Request) -> Response:
    services: Services = request.state.services
    media_id = path_id(request)
    column = VARIANTS.get(request.path_params["variant"])
    if column is None:
        raise NotFound("No such file.")
    media = await _remote_row(services, media_id)
    if media is None:
        raise NotFound("No such file.")
    async with services.db.session() as session:
        use = await remote_file_use(session, media_id)
    if use.reach == FileReach.UNUSED or (
        use.reach == FileReach.RESTRICTED and not await _may_fetch(request, use, anonymous=False)
    ):
        raise NotFound("No such file.")
    if media.original_key is None and media.fetch_error is None:
        try:
            await fetch_on_demand(services, media_id)
        except Waiting as waiting:
            return Response(
                "This picture is on its way; try again shortly.",
                status_code=503,
                media_type="text/plain",
                headers={"Retry-After": str(waiting.retry_after), "Cache-Control": "no-store"},
            )
        media = await _remote_row(services, media_id)
    key = getattr(media, column) or media.display_key or media.original_key if media is not None else None
    if not key:
        raise NotFound("This picture is not available.")
    return await _file_response(request, services, key, REMOTE_PUBLIC if use.reach == FileReach.PUBLIC else PRIVATE)


async def _remote_row(services: Services, media_id: int) -> Media | None:
    async with services.db.session() as session:
        media = await session.get(Media, media_id)
    return media if media is not None and media.state == MediaState.REMOTE and media.remote_url else None


async def _file_response(request: Request, services: Services, key: str, caching: str) -> Response:
    mime = mime_of_key(key)
    digest = key.rsplit("/", 1)[-1].split(".", 1)[0]
    headers = {"ETag": f'"{digest}"', "Cache-Control": caching, "X-Content-Type-Options": "nosniff"}
    path = services.media.local_path(key)
    if path is None:  # a store without local files (object storage): stream the bytes
        return Response(await services.media.get(key), media_type=mime, headers=headers)
    try:
        stat_result = await asyncio.to_thread(os.stat, path)
    except FileNotFoundError:
        raise NotFound("No such file.") from None
    if _etag_matches(request.headers.get("if-none-match", ""), digest):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=mime, headers=headers, stat_result=stat_result)


async def _may_fetch(request: Request, use: FileUse, *, anonymous: bool = True) -> bool:
    """A signed-in viewer or a signing actor must be allowed; a request that is neither holds the URL, and
    is served when the URL is a secret (``anonymous``: a key, not a media id)."""
    services: Services = request.state.services
    account = await current_account(request)
    if account is not None:
        async with services.db.session() as session:
            return await viewer_may_fetch(session, use, account)
    try:
        signer = await verify_fetcher(request)
    except (ActivityPubError, ReverieError):
        return False
    if signer is None:
        return anonymous
    async with services.db.session() as session:
        return await signer_may_fetch(session, use, signer)


def _etag_matches(header: str, digest: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or f'"{digest}"' in tags


routes = [
    Route("/media/remote/{id:id}/{variant}", remote_media_file, methods=["GET", "HEAD"]),
    Route("/media/{key:path}", media_file, methods=["GET", "HEAD"]),
]
