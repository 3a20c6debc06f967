"""``GET /media/{key}``: stored image files, content-addressed, so cacheable forever.

The key names the SHA-256 of the bytes, so it doubles as a strong ``ETag``; a malformed key is a 404
(and can never reach outside the media folder, see ``storage.media.check_key``).
"""

from __future__ import annotations

import asyncio
import os

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from fediverse.errors import NotFound
from fediverse.services import Services
from storage.media import MediaKeyError, mime_of_key

IMMUTABLE = "public, max-age=31536000, immutable"


async def media_file(request: Request) -> Response:
    services: Services = request.state.services
    key = request.path_params["key"]
    try:
        mime = mime_of_key(key)
    except MediaKeyError:
        raise NotFound("No such file.") from None
    digest = key.rsplit("/", 1)[-1].split(".", 1)[0]
    headers = {"ETag": f'"{digest}"', "Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"}
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


def _etag_matches(header: str, digest: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or f'"{digest}"' in tags


routes = [Route("/media/{key:path}", media_file, methods=["GET", "HEAD"])]
