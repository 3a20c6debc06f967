"""``GET /media/{key}``: stored image files, content-addressed.

The key names the SHA-256 of the bytes, so it doubles as a strong ``ETag``; a malformed key is a 404
(and can never reach outside the media folder, see ``storage.media.check_key``).

Who gets a file is ``fediverse.core.media_access``'s (decision 0047). A public file (of a public or unlisted
post, an avatar, a header) is for anyone and cacheable forever. A restricted one (only in followers-only
or direct posts, or a draft) is refused (404) to a signed-in viewer, or a signing actor, who may not see
any post it is in; a request with neither is served, because the unguessable URL is the capability
(Mastodon fetches attachments unsigned). Restricted and unused files are ``private, no-cache``: no shared
cache keeps them, and a browser asks again (a cheap 304) before each reuse.
"""

from __future__ import annotations

import asyncio
import os

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from activitypub.errors import ActivityPubError
from fediverse.core.errors import NotFound, ReverieError
from fediverse.core.media_access import FileReach, FileUse, file_use, signer_may_fetch, viewer_may_fetch
from fediverse.services import Services
from fediverse.web.activitypub.signed_fetch import verify_fetcher
from fediverse.web.sessions import current_account
from storage.media import MediaKeyError, mime_of_key

IMMUTABLE = "public, max-age=31536000, immutable"
PRIVATE = "private, no-cache"


async def media_file(request: Request) -> Response:
    services: Services = request.state.services
    key = request.path_params["key"]
    try:
        mime = mime_of_key(key)
    except MediaKeyError:
        raise NotFound("No such file.") from None
    async with services.db.session() as session:
        use = await file_use(session, key)
    if use.reach == FileReach.RESTRICTED and not await _may_fetch(request, use):
        raise NotFound("No such file.")
    digest = key.rsplit("/", 1)[-1].split(".", 1)[0]
    caching = IMMUTABLE if use.reach == FileReach.PUBLIC else PRIVATE
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


async def _may_fetch(request: Request, use: FileUse) -> bool:
    """A signed-in viewer or a signing actor must be allowed; a request that is neither holds the URL."""
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
        return True
    async with services.db.session() as session:
        return await signer_may_fetch(session, use, signer)


def _etag_matches(header: str, digest: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or f'"{digest}"' in tags


routes = [Route("/media/{key:path}", media_file, methods=["GET", "HEAD"])]
