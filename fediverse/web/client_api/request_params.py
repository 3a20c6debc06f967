"""The parameters of a client API call, wherever the client put them: the query string, a form
(url-encoded or multipart) or a JSON object. Mastodon's apps use all of them, for the same endpoints.

Names follow Rails' conventions, which clients copy: ``id[]=1&id[]=2`` is a list, ``source[privacy]`` a
nested key (a JSON body's nested objects are read under the same names), and a boolean is false for
``false``/``0``/``f``/``off`` (any case) and true for anything else that is not empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from fediverse.core.errors import BadRequest, UnprocessableEntity
from fediverse.core.ids import MAX_ID, parse_id
from fediverse.web.activitypub.inbox import read_capped_body

MAX_BODY_BYTES = 64 * 1024
#: A form's field count cap: enough for profile fields (``fields_attributes[3][value]``) and more.
MAX_FIELDS = 64
_FALSE = frozenset({"false", "0", "f", "off", "no", "n"})


@dataclass
class Params:
    """Every value sent under each name, in order; query values first."""

    values: dict[str, list[Any]] = field(default_factory=dict)
    forms: list[FormData] = field(default_factory=list)

    def add(self, name: str, value: Any) -> None:
        self.values.setdefault(name, []).append(value)

    def first(self, name: str) -> Any:
        found = self.values.get(name)
        return found[0] if found else None

    def text(self, name: str, *, max_length: int | None = None) -> str | None:
        """A string value, ``None`` when absent; 400 for a NUL character, 422 past ``max_length``."""
        value = self.first(name)
        if value is None or isinstance(value, UploadFile):
            return None
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            text = str(value)
        else:
            raise BadRequest(f"{name} must be a string.")
        if "\x00" in text:  # PostgreSQL stores no NUL in text; no client means one
            raise BadRequest(f"{name} contains a NUL character.")
        if max_length is not None and len(text) > max_length:
            raise UnprocessableEntity(f"Validation failed: {name} is too long (at most {max_length} characters).")
        return text

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        value = self.first(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return value != 0
        if isinstance(value, str):
            return value.strip().lower() not in _FALSE
        raise BadRequest(f"{name} must be a boolean.")

    def integer(self, name: str, *, default: int, minimum: int = 0, maximum: int = MAX_ID) -> int:
        """A whole number from ``minimum`` to ``maximum``; 400 naming the parameter otherwise."""
        value = self.first(name)
        if value is None or value == "":
            return default
        number = parse_id(value, minimum=minimum, maximum=maximum)
        if number is None:
            raise BadRequest(f"{name} must be a number from {minimum} to {maximum}.")
        return number

    def many(self, name: str) -> list[Any]:
        """All values of ``name[]`` and ``name`` (clients send either)."""
        return [*self.values.get(f"{name}[]", []), *self.values.get(name, [])]

    def strings(self, name: str) -> list[str]:
        return [
            str(value) for value in self.many(name) if isinstance(value, (str, int)) and not isinstance(value, bool)
        ]

    def file(self, name: str) -> UploadFile | None:
        value = self.first(name)
        return value if isinstance(value, UploadFile) else None

    async def close(self) -> None:
        """Close the uploaded files' spools (call when a form may have carried files)."""
        for form in self.forms:
            await form.close()


def _flatten(params: Params, prefix: str, value: Any) -> None:
    """A JSON value under Rails' names: ``{"source": {"privacy": "x"}}`` → ``source[privacy]``."""
    if isinstance(value, dict):
        if prefix:
            params.add(prefix, value)  # so that a string parameter sent as an object is refused, not missed
        for key, item in value.items():
            _flatten(params, f"{prefix}[{key}]" if prefix else str(key), item)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                continue  # lists of objects (profile fields) are read by nobody
            params.add(f"{prefix}[]", item)
            params.add(prefix, item)
    else:
        params.add(prefix, value)


def params_from(query: Iterable[tuple[str, Any]], form: FormData | None = None) -> Params:
    params = Params()
    for name, value in query:
        params.add(name, value)
    for name, value in form.multi_items() if form is not None else ():
        params.add(name, value)
    return params


async def read_params(request: Request, *, max_bytes: int = MAX_BODY_BYTES, max_files: int = 0) -> Params:
    """The query string and, for a body, its JSON object or form (url-encoded, or multipart with up to
    ``max_files`` files; some clients send everything as multipart). A form's body is capped at
    ``max_bytes``, a JSON body at ``MAX_BODY_BYTES``; 400 for a body that says JSON and is not."""
    params = params_from(request.query_params.multi_items())
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return params
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "application/json":
        body = await read_capped_body(request, MAX_BODY_BYTES)
        if not body.strip():
            return params
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise BadRequest("The body is not valid JSON.") from error
        if not isinstance(document, dict):
            raise BadRequest("Send a JSON object.")
        _flatten(params, "", document)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        body = await read_capped_body(request, max_bytes)
        form = await Request(request.scope, _replay(body)).form(
            max_files=max_files,
            max_fields=MAX_FIELDS,
            max_part_size=MAX_BODY_BYTES,
        )
        params.forms.append(form)
        for name, value in form.multi_items():
            params.add(name, value)
    return params


def _replay(body: bytes) -> Any:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
