"""Mastodon's pagination: ``max_id``/``since_id``/``min_id``/``limit`` in, a ``Link`` header out.

``max_id`` pages back (older than), ``since_id`` asks for the newest items newer than it, ``min_id`` for
the items just after it (oldest first, returned newest first). ``Link`` carries ``next`` (older) and
``prev`` (newer) URLs built from the first and last ids of the page, as clients follow them verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request

DEFAULT_LIMIT = 20
MAX_LIMIT = 40


@dataclass(frozen=True)
class Page:
    max_id: int | None
    since_id: int | None
    min_id: int | None
    limit: int

    @property
    def newer(self) -> int | None:
        """The id that everything in the page must be newer than (``min_id`` or ``since_id``)."""
        return self.min_id if self.min_id is not None else self.since_id


#: What Rails reads as a number: optional blanks and sign, then a digit (``"12abc"`` is 12, as ``to_i`` reads it).
_LEADING_NUMBER = re.compile(r"\s*([+-]?\d+)")
_NOTHING_ABOVE = 2**63 - 1


def _id(request: Request, name: str) -> int | None:
    """A cursor as Mastodon's Rails reads it, never an error: the leading number of the text; text with none
    compares with NULL there, so the page is empty — a ``max_id`` of 0 here, a ``since_id``/``min_id`` above
    every id. A ``max_id`` past every id is no bound, a ``since_id``/``min_id`` below 1 none either."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    found = _LEADING_NUMBER.match(raw)
    if found is None:
        return 0 if name == "max_id" else _NOTHING_ABOVE
    value = int(found.group(1))
    if name == "max_id":
        return None if value > _NOTHING_ABOVE else max(value, 0)
    return None if value < 1 else min(value, _NOTHING_ABOVE)


def page_of(request: Request, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> Page:
    """The request's page; ``limit`` is clamped to ``1..maximum`` as Mastodon does, never an error."""
    return Page(
        max_id=_id(request, "max_id"),
        since_id=_id(request, "since_id"),
        min_id=_id(request, "min_id"),
        limit=clamped_limit(request.query_params.get("limit"), default=default, maximum=maximum),
    )


def clamped_limit(raw: object, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """A ``limit`` clamped to ``1..maximum`` as Mastodon clamps it; what is no number is ``default``."""
    try:
        limit = int(raw) if isinstance(raw, str | int) and raw != "" else default
    except ValueError:
        limit = default
    return max(1, min(limit, maximum))


def link_header(request: Request, ids: Sequence[int | str]) -> dict[str, str]:
    """``Link: <…?max_id=oldest>; rel="next", <…?min_id=newest>; rel="prev"`` for a page of ``ids``
    (newest first); no header for an empty page."""
    if not ids:
        return {}
    base = request.state.services.settings.base_url + request.url.path
    kept = [(key, value) for key, value in request.query_params.multi_items() if key not in _CURSORS]
    older = urlencode([*kept, ("max_id", str(ids[-1]))])
    newer = urlencode([*kept, ("min_id", str(ids[0]))])
    return {"Link": f'<{base}?{older}>; rel="next", <{base}?{newer}>; rel="prev"'}


_CURSORS = frozenset({"max_id", "since_id", "min_id"})
