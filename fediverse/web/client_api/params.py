"""Parameters of a client API call, as Mastodon reads them: a JSON object, a form (URL-encoded or
multipart) with Rails' bracket names, or the query string, merged into one plain structure.

``media_ids[]=1&media_ids[]=2`` becomes ``{"media_ids": ["1", "2"]}``, ``reverie[mood_word]=calm``
``{"reverie": {"mood_word": "calm"}}``, and ``media_attributes[][id]=1&media_attributes[][description]=…``
(or ``media_attributes[0][id]=…``) a list of objects, the same shapes a JSON body has. The typed getters
answer 422 naming the parameter (``source[privacy]`` for a nested one) when a value has the wrong type or is
out of bounds, and never let a bad value reach the database: no text with a NUL character, which PostgreSQL
cannot store. A malformed body is a 400, another content type a 415, too large a body a 413.

A multipart form may carry files where the endpoint allows them (``read_params(max_files=…)``); they are
``UploadFile`` values, spooled until the ``Params`` is closed (``async with await read_params(…)``).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from typing import Any, overload
from urllib.parse import parse_qsl

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from fediverse.core.errors import BadRequest, UnprocessableEntity, UnsupportedMediaType
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
    """One call's parameters; the body's win over the query string's. A nested object's own parameters
    (``object``, ``objects``) are named in errors by their full bracket name."""

    def __init__(self, values: Mapping[str, Any], *, prefix: str = "", forms: Sequence[FormData] = ()) -> None:
        self.values = dict(values)
        self._prefix = prefix
        self._forms = list(forms)

    async def __aenter__(self) -> Params:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Remove the spools of the files a multipart form carried (nothing to do for other bodies)."""
        for form in self._forms:
            await form.close()
        self._forms.clear()

    def __contains__(self, name: str) -> bool:
        return name in self.values and self.values[name] is not None

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def _many(self, name: str) -> list[Any]:
        """The values under ``name``: a list as it is, one bare value as a list of one, none when absent."""
        value = self.values.get(name)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    def _name(self, name: str) -> str:
        return f"{self._prefix}[{name}]" if self._prefix else name

    def _no_nul(self, name: str, value: str) -> str:
        if "\x00" in value:  # PostgreSQL stores no NUL in text; no client means one
            raise UnprocessableEntity(f"{self._name(name)} contains a NUL character.")
        return value

    @overload
    def integer(self, name: str, *, default: int, minimum: int | None = None, maximum: int | None = None) -> int: ...

    @overload
    def integer(
        self, name: str, *, default: None = None, minimum: int | None = None, maximum: int | None = None
    ) -> int | None: ...

    def integer(
        self, name: str, *, default: int | None = None, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        """A whole number, from JSON or a form's digits, within ``minimum`` and ``maximum`` where given;
        ``default`` when absent or empty."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,20}", value.strip()):
            number = int(value.strip())
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise UnprocessableEntity(f"{self._name(name)} must be a whole number.")
        if minimum is not None and number < minimum:
            raise UnprocessableEntity(f"{self._name(name)} must be {_bounds(minimum, maximum)}.")
        if maximum is not None and number > maximum:
            raise UnprocessableEntity(f"{self._name(name)} must be {_bounds(minimum, maximum)}.")
        return number

    def words(self, name: str) -> list[str]:
        """A list given as one string of words (separated by spaces or newlines), as a form's list or a JSON
        array of strings; in order, without repeats."""
        found = [word for item in self.strings(name) for word in item.split()]
        return list(dict.fromkeys(found))

    def text(self, name: str, *, default: str | None = None, max_length: int | None = None) -> str | None:
        """A string, ``default`` when absent; 422 for another type, a NUL character, or past ``max_length``."""
        value = self.values.get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise UnprocessableEntity(f"{self._name(name)} must be text.")
        if max_length is not None and len(value) > max_length:
            raise UnprocessableEntity(f"{self._name(name)} is too long (at most {max_length} characters).")
        return self._no_nul(name, value)

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
        raise UnprocessableEntity(f"{self._name(name)} must be true or false.")

    def id(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        found = parse_id(value)
        if found is None:
            raise UnprocessableEntity(f"{self._name(name)} must be an id (a number from 1 to {MAX_ID}).")
        return found

    def ids(self, name: str) -> list[int]:
        """A list of ids (``name[]`` in a form, an array in JSON; one bare value counts as a list of one)."""
        found = [parse_id(item) for item in self._many(name) if item != ""]
        if None in found:
            raise UnprocessableEntity(f"{self._name(name)} must be a list of ids.")
        return [item for item in found if item is not None]

    def strings(self, name: str) -> list[str]:
        """A list of strings, given as ``ids`` are; empty ones left out."""
        values = self._many(name)
        if not all(isinstance(item, str) for item in values):
            raise UnprocessableEntity(f"{self._name(name)} must be a list of text.")
        return [self._no_nul(name, item) for item in values if item]

    def file(self, name: str) -> UploadFile | None:
        """A file from a multipart form (``read_params(max_files=…)``); ``None`` when absent or empty."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, UploadFile):
            raise UnprocessableEntity(f"{self._name(name)} must be a file.")
        return value

    def objects(self, name: str) -> list[Params]:
        """A list of objects (``name[][key]`` or ``name[0][key]`` in a form, an array of objects in JSON, or an
        object keyed by index, as Rails' nested attributes take it)."""
        value = self.values.get(name)
        if value is None:
            return []
        if isinstance(value, dict):
            indexed = value and all(key.isdigit() for key in value)
            value = [value[key] for key in sorted(value, key=int)] if indexed else [value]
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise UnprocessableEntity(f"{self._name(name)} must be a list of objects.")
        return [Params(item, prefix=f"{self._name(name)}[{index}]") for index, item in enumerate(value)]

    def object(self, name: str) -> Params:
        """An object (``name[key]`` in a form, a JSON object); empty when absent."""
        value = self.values.get(name)
        if value is None:
            return Params({}, prefix=self._name(name))
        if not isinstance(value, dict):
            raise UnprocessableEntity(f"{self._name(name)} must be an object.")
        return Params(value, prefix=self._name(name))


def _bounds(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"a whole number from {minimum} to {maximum}"
    return f"at least {minimum}" if minimum is not None else f"at most {maximum}"


def query_params(request: Request) -> Params:
    """The query string's parameters alone (what a ``GET`` has)."""
    return Params(nest(request.query_params.multi_items()))


async def read_params(request: Request, *, max_files: int = 0, max_bytes: int = MAX_BODY_BYTES) -> Params:
    """The call's parameters: the query string, then the body (JSON, URL-encoded or multipart form) over it.

    A multipart form may carry up to ``max_files`` files in a body of up to ``max_bytes``; close the answer
    when it may hold files. Other bodies are capped at ``MAX_BODY_BYTES``."""
    values = nest(request.query_params.multi_items())
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE") and not content_type:
        return Params(values)
    if content_type == "multipart/form-data":
        form = await _multipart(request, max_files=max_files, max_bytes=max_bytes)
        try:
            values.update(nest(form.multi_items()))
        except BaseException:
            await form.close()
            raise
        return Params(values, forms=[form])
    body = await read_capped_body(request, MAX_BODY_BYTES)
    if content_type == "application/json" or content_type.endswith("+json"):
        if body.strip():
            try:
                document = json.loads(body)
            except (ValueError, RecursionError) as error:
                raise BadRequest("The body is not valid JSON.") from error
            if not isinstance(document, dict):
                raise BadRequest("Send a JSON object.")
            values.update(document)
    elif content_type == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except (UnicodeDecodeError, ValueError) as error:
            raise BadRequest("The form could not be read.") from error
        values.update(nest(pairs))
    elif content_type and body.strip():
        raise UnsupportedMediaType("Send JSON or a form.")
    return Params(values)


async def _multipart(request: Request, *, max_files: int, max_bytes: int) -> FormData:
    body = await read_capped_body(request, max_bytes)

    async def chunks() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(
        request.headers, chunks(), max_files=max_files, max_fields=MAX_FIELDS, max_part_size=MAX_BODY_BYTES
    )
    try:
        return await parser.parse()
    except MultiPartException as error:
        raise BadRequest(error.message) from error
