"""Ids and page numbers from outside — paths, query strings, forms, JSON — read one way.

Our ids are 64-bit signed integers (``BIGINT``): SQLite raises ``OverflowError`` binding a larger one,
asyncpg raises on one PostgreSQL cannot hold. So a number from a request is an id only when it fits;
everything else (too large, negative, a fraction, non-ASCII digits like ``²`` that ``int()`` refuses,
no number at all) is not one, and the caller answers 400 or 404 rather than letting the database fail.
"""

from __future__ import annotations

import re

#: The largest id a 64-bit signed column holds (SQLite's INTEGER, PostgreSQL's BIGINT).
MAX_ID = 2**63 - 1

_DECIMAL = re.compile(r"[0-9]{1,19}")


def parse_id(value: object, *, minimum: int = 1, maximum: int = MAX_ID) -> int | None:
    """``value`` as a whole number from ``minimum`` to ``maximum`` — ASCII digits, or a JSON integer —
    else ``None``. Row ids and ``max_id`` use the defaults; a page number or an event id passes its own."""
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        return None
    return number if minimum <= number <= maximum else None
