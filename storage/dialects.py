"""The one place that picks a dialect's ``INSERT … ON CONFLICT`` and loads PostgreSQL's dialect lazily.

A process on SQLite never loads SQLAlchemy's PostgreSQL dialect or asyncpg (~5 MiB, decision 0053): code
asks for ``insert_for(name)`` with the dialect name its session or engine reports, and only a PostgreSQL
name imports ``sqlalchemy.dialects.postgresql``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import sqlite

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql

#: ``insert(table)`` of a dialect that has ``on_conflict_do_nothing``/``on_conflict_do_update``.
DialectInsert = Callable[[Any], "sqlite.Insert"] | Callable[[Any], "postgresql.Insert"]


def insert_for(dialect_name: str) -> DialectInsert:
    """``sqlite.insert`` or ``postgresql.insert``, by the name a bind reports (``dialect.name``)."""
    if dialect_name == "sqlite":
        return sqlite.insert
    from sqlalchemy.dialects import postgresql

    return postgresql.insert
