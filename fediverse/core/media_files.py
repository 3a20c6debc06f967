"""The files behind ``Media`` rows: which keys a row uses, and deleting the ones no row uses any more.

The store is content-addressed, so two rows (the same picture uploaded twice, say) may share a file;
a file goes only when no row refers to it. Rows are deleted in a transaction and their files after it
commits: a crash in between leaves an orphan file for the periodic sweep (``fediverse.housekeeping``),
never a row without its file.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlmodel import col

from storage.db import Database
from storage.media import MediaStore
from storage.models import Media


def keys_of(media: Media) -> set[str]:
    return {key for key in (media.original_key, media.display_key, media.thumbnail_key) if key}


async def keys_in_use(db: Database, candidates: set[str]) -> set[str]:
    """Those of ``candidates`` that some ``Media`` row refers to."""
    if not candidates:
        return set()
    async with db.session() as session:
        rows = await session.execute(
            select(col(Media.original_key), col(Media.display_key), col(Media.thumbnail_key)).where(
                or_(
                    col(Media.original_key).in_(candidates),
                    col(Media.display_key).in_(candidates),
                    col(Media.thumbnail_key).in_(candidates),
                )
            )
        )
        return {key for row in rows for key in row if key in candidates}


async def forget_files(db: Database, store: MediaStore, keys: Iterable[str]) -> set[str]:
    """Delete the files no ``Media`` row refers to any more, and return their keys. Call after the
    transaction that dropped the references has committed."""
    candidates = set(keys)
    unused = candidates - await keys_in_use(db, candidates)
    for key in unused:
        await store.delete(key)
    return unused
