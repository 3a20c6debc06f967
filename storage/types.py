"""Column types shared by the tables: UTC timestamps, ids, JSON, time-ordered ids."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

#: Autoincrementing 64-bit key; SQLite only aliases the rowid for a column declared ``INTEGER``.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class _JsonDocument(TypeDecorator[Any]):
    """JSON, stored as JSONB on PostgreSQL. The PostgreSQL type is looked up when a PostgreSQL dialect
    asks, so a process on SQLite never loads that dialect (decision 0053)."""

    impl = JSON
    cache_ok = True
    # As JSON's own: values are unhashable, and None is stored as JSON ``null`` (JSON's none_as_null=False).
    hashable = False
    should_evaluate_none = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


#: JSON documents (raw AS2, generation parameters); JSONB on PostgreSQL.
JsonDocument = _JsonDocument()


class RawJson(str):
    """JSON text stored exactly as given, e.g. the body a peer sent: serialising the parsed document
    again cost the inbox a twentieth of its time (docs/benchmarks.md)."""


def serialize_json(value: Any) -> str:
    """The engine's JSON serialiser: ``RawJson`` passes through, anything else goes through ``json.dumps``."""
    return value if isinstance(value, RawJson) else json.dumps(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no time zone type and hands back naive values; this normalises both directions so
    comparisons never mix naive and aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value  # str: raw SQL on SQLite
        if not isinstance(moment, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


_last_snowflake = 0
#: Units of work run in threads (decision 0049), and the inbox worker makes post ids in one.
_snowflake_lock = threading.Lock()


def new_snowflake() -> int:
    """A time-ordered 63-bit id: milliseconds since the epoch, then 16 random bits.

    Posts use these so their ids sort by creation time across processes and reveal no counts.
    Within one process ids are strictly increasing.
    """
    global _last_snowflake
    candidate = (int(time.time() * 1000) << 16) | int.from_bytes(os.urandom(2), "big")
    with _snowflake_lock:
        _last_snowflake = max(candidate, _last_snowflake + 1)
        return _last_snowflake
