"""Typed column expressions for the SQLModel tables.

SQLModel types a table's attributes as their Python values (``Post.id`` is ``int | None``), so a type checker
reads ``Post.id == 1`` as a ``bool``; ``sqlmodel.col()`` gives the column's SQL type instead. ``key_col`` does the
same for an autoincrement primary key, which is ``None`` only on an object not yet inserted: a row read back from
the database always has one. ``table_of`` is the Core ``Table`` behind a table model.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table
from sqlalchemy.orm import Mapped
from sqlmodel import SQLModel, col


def key_col(column: int | None) -> Mapped[int]:
    """``Model.id`` as the SQL column of a primary key that is never NULL in a stored row."""
    return cast("Mapped[int]", col(column))


def table_of(model: type[SQLModel]) -> Table:
    """The Core ``Table`` of a table model (``table=True``), for Core inserts and batch writers."""
    # SQLModel sets __table__ when it creates a table model; its type stubs do not declare the attribute.
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table
