"""Parameters of a client API write, as Rails reads them for Mastodon: a JSON object, or a form
(urlencoded or multipart) whose ``name[]`` fields are lists and ``outer[inner]`` fields nested objects,
on top of the query string. Apps send all of these (Mastodon.py forms, masto.js JSON, Tusky multipart).

Values are checked where they are used, by the typed readers below; a wrong type is a 422 naming the
parameter, as Mastodon's validations answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from fediverse.core.errors import BadRequest, UnprocessableEntity
from fediverse.web.activitypub.inbox import read_capped_body
from fediverse.web.uploads import replay_body

Params = dict[str, Any]

MAX_BODY_BYTES = 64 * 1024
_NESTED = re.compile(r"^([^\[\]]+)\[([^\[\]]+)\]$")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_TRUE = frozenset({"true", "1", "on", "yes"})
_FALSE = frozenset({"false", "0", "off", "no", ""})


def query_params(request: Request) -> Params:
    """The query string's parameters, with ``name[]`` lists and ``outer[inner]`` objects."""
    return _from_pairs(request.query_params.multi_items())


async def read_params(request: Request, *, limit: int = MAX_BODY_BYTES) -> Params:
    """The query string's parameters overlaid with the body's (JSON or a form); ``{}`` when there are none."""
    params = query_params(request)
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if request.method in ("GET", "HEAD", "DELETE") and not content_type:
        return params
    body = await read_capped_body(request, limit)
    if not body.strip():
        return params
    if content_type == "application/json" or (not content_type and body.lstrip()[:1] == b"{"):
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise BadRequest("The body is not valid JSON.") from error
        if not isinstance(document, dict):
            raise BadRequest("Send a JSON object.")
        return {**params, **document}
    if content_type in _FORMS:
        form = await Request(request.scope, replay_body(body)).form(max_files=2, max_fields=200)
        try:
            pairs = [(key, value) for key, value in form.multi_items() if not isinstance(value, UploadFile)]
        finally:
            await form.close()
        return {**params, **_from_pairs(pairs)}
    raise BadRequest("Send the parameters as JSON or as a form.")


def _from_pairs(pairs: list[tuple[str, Any]]) -> Params:
    params: Params = {}
    for key, value in pairs:
        if key.endswith("[]"):
            existing = params.setdefault(key[:-2], [])
            if isinstance(existing, list):
                existing.append(value)
            continue
        nested = _NESTED.match(key)
        if nested:
            outer = params.setdefault(nested.group(1), {})
            if isinstance(outer, dict):
                outer[nested.group(2)] = value
            continue
        params[key] = value
    return params


def many(params: Params, name: str) -> list[str]:
    """A list parameter (``name[]=a&name[]=b``, ``name[0]=a``, ``name=a``, or a JSON array) as strings."""
    value = params.get(name)
    if value is None:
        return []
    if isinstance(value, dict):  # name[0]=a&name[1]=b, as some query-string encoders write arrays
        value = [value[key] for key in sorted(value, key=lambda key: (len(key), key))]
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in values):
        raise UnprocessableEntity(f"{name} must be a list of text.")
    return list(values)


def text(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnprocessableEntity(f"{name} must be text.")
    return value


def integer(params: Params, name: str) -> int | None:
    """A whole number, from JSON or from a form's digits; ``None`` when absent or empty."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UnprocessableEntity(f"{name} must be a whole number.")
    if isinstance(value, str):
        stripped = value.strip()
        if not re.fullmatch(r"-?[0-9]{1,20}", stripped):
            raise UnprocessableEntity(f"{name} must be a whole number.")
        return int(stripped)
    return value


def flag(params: Params, name: str) -> bool | None:
    """A boolean, from JSON or a form's ``true``/``false``/``1``/``0``; ``None`` when absent."""
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise UnprocessableEntity(f"{name} must be true or false.")
