"""Ids and page numbers in requests, all read through ``fediverse.core.ids.parse_id``.

A path id is declared ``{name:id}``: the segment matches only a number the database can hold, so
``/posts/99999999999999999999/like`` is a 404 before any handler runs (Starlette's ``int`` matches any
run of digits and hands the database a number it cannot bind). In a query string or a form, a value
that is not an id is a 400 naming the parameter; an absent or empty one is simply not given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request

from fediverse.core.errors import BadRequest, NotFound
from fediverse.core.ids import MAX_ID, parse_id


def _numbers_up_to(limit: int) -> str:
    """A regular expression for the decimal numbers 1 to ``limit`` (at least two digits), without leading zeros:
    those with fewer digits, then those as long whose first difference is a smaller digit, then ``limit``."""
    digits = str(limit)
    alternatives = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"]
    for position, digit in enumerate(digits):
        lowest = 1 if position == 0 else 0
        if int(digit) > lowest:
            rest = len(digits) - position - 1
            alternatives.append(f"{digits[:position]}[{lowest}-{int(digit) - 1}][0-9]{{{rest}}}")
    return "(?:" + "|".join([*alternatives, digits]) + ")"


class IdConvertor(Convertor[int]):
    """``{name:id}`` in a route: an id from 1 to ``MAX_ID``; any other segment matches no route."""

    regex: ClassVar[str] = _numbers_up_to(MAX_ID)
    pattern: ClassVar[re.Pattern[str]] = re.compile(regex)

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())


def path_id(request: Request, name: str = "id") -> int:
    """The id in the path (a ``{name:id}`` segment); one that is no id is not found."""
    value = parse_id(request.path_params[name])
    if value is None:
        raise NotFound("Not found.")
    return value


def query_id(request: Request, name: str) -> int | None:
    """An id in the query string (``max_id``, ``min_id``, …), ``None`` when absent; 400 when it is no id."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    value = parse_id(raw)
    if value is None:
        raise BadRequest(f"{name} must be an id (a number from 1 to {MAX_ID}).")
    return value


def form_ids(values: Iterable[object], name: str) -> list[int]:
    """Ids from a repeated query or form field (``media``, ``post``…); 400 when one is no id."""
    ids = [parse_id(value) for value in values if value != ""]
    if None in ids:
        raise BadRequest(f"{name} must be ids (numbers from 1 to {MAX_ID}).")
    return [value for value in ids if value is not None]


def page_number(request: Request, *, maximum: int) -> int | None:
    """``?page=N`` from 1 to ``maximum``, ``None`` when absent; 400 when out of range or no number."""
    raw = request.query_params.get("page")
    if not raw:
        return None
    value = parse_id(raw, maximum=maximum)
    if value is None:
        raise BadRequest(f"page must be a number from 1 to {maximum}.")
    return value
