"""What every ``/api`` handler shares: the signed-in account (CSRF-checked on writes) and JSON bodies.

The JSON API serves our own web UI: session cookie auth, the session's CSRF token in ``X-CSRF-Token`` on
every call that changes something, and errors as ``{"error": "..."}`` (``fediverse.web.app``'s handlers).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from fediverse.core.errors import BadRequest, UnsupportedMediaType
from fediverse.web.activitypub.inbox import read_capped_body
from fediverse.web.sessions import check_csrf, require_account
from storage.models import Account

MAX_JSON_BYTES = 64 * 1024
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def api_account(request: Request) -> Account:
    """The signed-in account (401); writes must carry the session's CSRF token (403)."""
    account = await require_account(request)
    if request.method not in _SAFE_METHODS:
        await check_csrf(request)
    return account


async def read_json_object(request: Request, limit: int = MAX_JSON_BYTES) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("Send JSON (Content-Type: application/json).")
    body = await read_capped_body(request, limit)
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise BadRequest("The body is not valid JSON.") from error
    if not isinstance(document, dict):
        raise BadRequest("Send a JSON object.")
    return document
