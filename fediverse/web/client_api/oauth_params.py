"""The parameters of an OAuth or app-registration request: the query string overlaid with a JSON object
or a form body, as Mastodon (Rails) reads them. Apps send all three: Mastodon.py and toot forms,
masto.js and toot JSON, some scripts only a query string.

A form's ``name[]`` fields become lists; any other repeated field keeps its last value.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.requests import Request

from fediverse.core.errors import BadRequest, PayloadTooLarge, UnprocessableEntity
from fediverse.web.activitypub.inbox import read_capped_body

Params = dict[str, Any]

MAX_BODY_BYTES = 64 * 1024


async def read_params(request: Request) -> Params:
    """The query string's parameters overlaid with the body's; ``{}`` when there are none."""
    params = _from_pairs(request.query_params.multi_items())
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if request.method == "GET" or not content_type:
        return params
    if content_type == "multipart/form-data":
        declared = request.headers.get("content-length", "")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"The body exceeds {MAX_BODY_BYTES} bytes.")
        form = await request.form(max_files=0, max_fields=100)
        pairs = [(key, value) for key, value in form.multi_items() if not isinstance(value, UploadFile)]
        return {**params, **_from_pairs(pairs)}
    body = await read_capped_body(request, MAX_BODY_BYTES)
    if content_type == "application/x-www-form-urlencoded":
        return {**params, **_from_pairs(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))}
    if content_type == "application/json" or content_type.endswith("+json"):
        if not body.strip():
            return params
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise BadRequest("The body is not valid JSON.") from error
        if not isinstance(document, dict):
            raise BadRequest("Send a JSON object.")
        return {**params, **document}
    raise BadRequest("Send the parameters as a form or as JSON.")


def _from_pairs(pairs: Any) -> Params:
    params: Params = {}
    for key, value in pairs:
        if key.endswith("[]"):
            listed = params.setdefault(key[:-2], [])
            if isinstance(listed, list):
                listed.append(value)
        else:
            params[key] = value
    return params


def text(params: Params, name: str) -> str | None:
    """A text parameter; ``None`` when absent. Anything else (a number, a list) is a 422 naming it."""
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnprocessableEntity(f"{name} must be text.")
    return value


def words(params: Params, name: str) -> list[str]:
    """A list given as one string of words (separated by spaces, newlines or ``+``), as a form's or a
    JSON array of strings; in order, without repeats."""
    value = params.get(name)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise UnprocessableEntity(f"{name} must be text or a list of text.")
    found = [word for item in items for word in item.split()]
    return list(dict.fromkeys(found))
