"""Typed column expressions for the SQLModel tables.

SQLModel types a table's attributes as their Python values (``Post.id`` is ``int | None``), so a type checker
reads ``Post.id == 1`` as a ``bool``; ``sqlmodel.col()`` gives the column's SQL type instead. ``key_col`` does the
same for an autoincrement primary key, which is ``None`` only on an object not yet inserted: a row read back from
the database always has one.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy.orm import Mapped
from sqlmodel import col


def key_col(column: int | None) -> Mapped[int]:
    """``Model.id`` as the SQL column of a primary key that is never NULL in a stored row."""
    return cast("Mapped[int]", col(column))
