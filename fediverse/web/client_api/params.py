"""Parameters of a client API call, as Mastodon reads them: a JSON object, a form (URL-encoded or
multipart) with Rails' bracket names, or the query string, merged into one plain structure.

``media_ids[]=1&media_ids[]=2`` becomes ``{"media_ids": ["1", "2"]}``, ``reverie[mood_word]=calm``
``{"reverie": {"mood_word": "calm"}}``, and ``media_attributes[][id]=1&media_attributes[][description]=…``
(or ``media_attributes[0][id]=…``) a list of objects, the same shapes a JSON body has. The typed getters
answer 422 naming the parameter when a value has the wrong type, and never let a bad value reach the
database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.requests import Request

from fediverse.core.errors import BadRequest, PayloadTooLarge, UnprocessableEntity, UnsupportedMediaType
from fediverse.core.ids import MAX_ID, parse_id
from fediverse.web.activitypub.inbox import read_capped_body

#: A status, its content warning and a few alt texts fit many times over; media uploads have their own route.
MAX_BODY_BYTES = 256 * 1024
MAX_FIELDS = 200
_NAME = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_TRUE = frozenset({"true", "1", "on", "yes", "t"})
_FALSE = frozenset({"false", "0", "off", "no", "f", ""})


def _set(target: dict[str, Any], path: list[str], value: Any) -> None:
    """Place ``value`` at ``path`` (``["a", "", "b"]`` for ``a[][b]``) as Rails does."""
    head, rest = path[0], path[1:]
    if not rest:
        target[head] = value
        return
    if rest[0] == "":  # ``a[]`` or ``a[][b]``: a list
        items = target.setdefault(head, [])
        if not isinstance(items, list):
            raise BadRequest(f"{head} is given twice in different shapes.")
        if len(rest) == 1:
            items.append(value)
            return
        # ``a[][b]``: a new object when the last one already has ``b``
        if not items or not isinstance(items[-1], dict) or _has(items[-1], rest[1:]):
            items.append({})
        _set(items[-1], rest[1:], value)
        return
    child = target.setdefault(head, {})
    if not isinstance(child, dict):
        raise BadRequest(f"{head} is given twice in different shapes.")
    _set(child, rest, value)


def _has(target: dict[str, Any], path: list[str]) -> bool:
    value: Any = target
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return False
        value = value[key]
    return True


def _indexed_lists(value: Any) -> Any:
    """``{"0": {...}, "1": {...}}`` (``a[0][b]=…``) becomes a list, as Rails' strong parameters read it."""
    if isinstance(value, dict):
        converted = {key: _indexed_lists(item) for key, item in value.items()}
        if converted and all(key.isdigit() for key in converted):
            return [converted[key] for key in sorted(converted, key=int)]
        return converted
    if isinstance(value, list):
        return [_indexed_lists(item) for item in value]
    return value


def nest(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Form or query pairs with bracket names as one nested structure."""
    nested: dict[str, Any] = {}
    for count, (name, value) in enumerate(pairs):
        if count >= MAX_FIELDS:
            raise BadRequest(f"At most {MAX_FIELDS} parameters.")
        match = _NAME.match(name)
        if match is None:
            continue
        path = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        _set(nested, path, value)
    converted = _indexed_lists(nested)
    assert isinstance(converted, dict)
    return converted


class Params:
    """One call's parameters; the body's win over the query string's."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def __contains__(self, name: str) -> bool:
        return name in self.values and self.values[name] is not None

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def integer(self, name: str) -> int | None:
        """A whole number, from JSON or a form's digits; ``None`` when absent or empty."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,20}", value.strip()):
            return int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise UnprocessableEntity(f"{name} must be a whole number.")

    def words(self, name: str) -> list[str]:
        """A list given as one string of words (separated by spaces or newlines), as a form's list or a JSON
        array of strings; in order, without repeats."""
        found = [word for item in self.strings(name) for word in item.split()]
        return list(dict.fromkeys(found))

    def text(self, name: str, *, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, UploadFile) or not isinstance(value, str):
            raise UnprocessableEntity(f"{name} must be text.")
        return value

    def flag(self, name: str, *, default: bool | None = None) -> bool | None:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE:
            return True
        if isinstance(value, str) and value.strip().lower() in _FALSE:
            return False
        raise UnprocessableEntity(f"{name} must be true or false.")

    def id(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        found = parse_id(value)
        if found is None:
            raise UnprocessableEntity(f"{name} must be an id (a number from 1 to {MAX_ID}).")
        return found

    def ids(self, name: str) -> list[int]:
        """A list of ids (``name[]`` in a form, an array in JSON; one bare value counts as a list of one)."""
        value = self.values.get(name)
        if value is None:
            return []
        values = value if isinstance(value, list) else [value]
        found = [parse_id(item) for item in values if item != ""]
        if None in found:
            raise UnprocessableEntity(f"{name} must be a list of ids.")
        return [item for item in found if item is not None]

    def strings(self, name: str) -> list[str]:
        value = self.values.get(name)
        if value is None:
            return []
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in values):
            raise UnprocessableEntity(f"{name} must be a list of text.")
        return [item for item in values if item]

    def objects(self, name: str) -> list[Params]:
        """A list of objects (``name[][key]`` in a form, an array of objects in JSON)."""
        value = self.values.get(name)
        if value is None:
            return []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise UnprocessableEntity(f"{name} must be a list of objects.")
        return [Params(item) for item in value]

    def object(self, name: str) -> Params:
        """An object (``name[key]`` in a form, a JSON object); empty when absent."""
        value = self.values.get(name)
        if value is None:
            return Params({})
        if not isinstance(value, dict):
            raise UnprocessableEntity(f"{name} must be an object.")
        return Params(value)


def query_params(request: Request) -> Params:
    """The query string's parameters alone (what a ``GET`` has)."""
    return Params(nest(request.query_params.multi_items()))


async def read_params(request: Request) -> Params:
    """The call's parameters: the query string, then the body (JSON, URL-encoded or multipart form) over it."""
    values = nest(request.query_params.multi_items())
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE") and not content_type:
        return Params(values)
    if content_type == "application/json" or content_type.endswith("+json"):
        body = await read_capped_body(request, MAX_BODY_BYTES)
        if body.strip():
            try:
                document = json.loads(body)
            except (ValueError, RecursionError) as error:
                raise BadRequest("The body is not valid JSON.") from error
            if not isinstance(document, dict):
                raise BadRequest("Send a JSON object.")
            values.update(document)
    elif content_type == "application/x-www-form-urlencoded":
        body = await read_capped_body(request, MAX_BODY_BYTES)
        try:
            pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except (UnicodeDecodeError, ValueError) as error:
            raise BadRequest("The form could not be read.") from error
        values.update(nest(pairs))
    elif content_type == "multipart/form-data":
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            raise PayloadTooLarge(f"The body exceeds {MAX_BODY_BYTES} bytes.")
        form = await request.form(max_files=0, max_fields=MAX_FIELDS)
        values.update(nest(form.multi_items()))
    elif content_type:
        body = await read_capped_body(request, MAX_BODY_BYTES)
        if body.strip():
            raise UnsupportedMediaType("Send JSON or a form.")
    return Params(values)
