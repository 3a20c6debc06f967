"""One housekeeping sweep: expired drafts, old deletion markers, orphan media files.

Every step is idempotent and safe beside other workers doing the same: rows are deleted with their
conditions restated in the ``DELETE`` (a draft that a publish claims meanwhile is no longer a draft
there, so it stays), files are deleted only when no ``Media`` row refers to them. Each step first
looks with a read-only query, so a sweep with nothing to do takes no write lock.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from fediverse.media_files import forget_files, keys_in_use
from fediverse.services import Services
from storage.db import Database
from storage.media import MediaStore
from storage.models import DeletedObject, Media, MediaState
from storage.types import utcnow

log = logging.getLogger(__name__)

#: How long "this was deleted before we saw it created" is remembered. Mastodon keeps 6 h (in Redis);
#: senders retry a Create for days (we do for about two), so we keep a month.
DELETION_MARKER_RETENTION = timedelta(days=30)
#: A file no row uses is left alone this long: files are stored before their row commits, and a
#: generation job may paint for up to an hour (``REVERIE_GENERATION_TIMEOUT``'s upper bound) first.
ORPHAN_FILE_GRACE = timedelta(hours=6)
BATCH_SIZE = 500


@dataclass(frozen=True)
class SweepReport:
    """What one sweep removed."""

    drafts: int = 0
    deletion_markers: int = 0
    files: int = 0

    @property
    def total(self) -> int:
        return self.drafts + self.deletion_markers + self.files

    def describe(self) -> str:
        return (
            f"removed {self.drafts} expired draft image(s), {self.files} unused file(s) "
            f"and {self.deletion_markers} old deletion marker(s)"
        )


async def sweep(services: Services, now: datetime | None = None, *, orphan_files: bool = True) -> SweepReport:
    """Remove what has expired at ``now`` (default: the present). ``orphan_files`` walks the media folder,
    the one step whose cost grows with the instance; the worker does it less often."""
    now = now or utcnow()
    db, store = services.db, services.media
    drafts, draft_keys = await expire_drafts(db, now - timedelta(hours=services.settings.draft_retention_hours))
    draft_files = await forget_files(db, store, draft_keys)
    markers = await prune_deletion_markers(db, now - DELETION_MARKER_RETENTION)
    orphans = await remove_orphan_files(db, store, now - ORPHAN_FILE_GRACE) if orphan_files else 0
    report = SweepReport(drafts=drafts, deletion_markers=markers, files=len(draft_files) + orphans)
    if report.total:
        log.info("housekeeping %s", report.describe())
    return report


async def expire_drafts(db: Database, before: datetime) -> tuple[int, set[str]]:
    """Delete draft images created before ``before``: how many, and the keys of their files (to forget
    after the commit, which this function has done)."""
    expired = (Media.state == MediaState.DRAFT, Media.created_at < before)
    removed, keys = 0, set[str]()
    while True:
        async with db.session() as session:
            ids = list(await session.scalars(select(Media.id).where(*expired).order_by(Media.id).limit(BATCH_SIZE)))
        if not ids:
            break
        async with db.transaction() as session:
            rows = await session.execute(
                delete(Media)
                .where(Media.id.in_(ids), *expired)
                .returning(Media.original_key, Media.display_key, Media.thumbnail_key)
                .execution_options(synchronize_session=False)
            )
            deleted = rows.all()
        removed += len(deleted)
        keys.update(key for row in deleted for key in row if key)
        if len(ids) < BATCH_SIZE:
            break
    return removed, keys


async def prune_deletion_markers(db: Database, before: datetime) -> int:
    """Forget deletes-before-creates recorded before ``before`` (``DeletedObject``)."""
    old = DeletedObject.deleted_at < before
    async with db.session() as session:
        if await session.scalar(select(DeletedObject.ap_id).where(old).limit(1)) is None:
            return 0
    async with db.transaction() as session:
        rows = await session.scalars(
            delete(DeletedObject).where(old).returning(DeletedObject.ap_id).execution_options(synchronize_session=False)
        )
        return len(rows.all())


async def remove_orphan_files(db: Database, store: MediaStore, before: datetime) -> int:
    """Delete files last stored before ``before`` that no ``Media`` row refers to (left by a crash
    between a commit and its file removal, or between storing a file and committing its row)."""
    removed = 0
    for chunk in _chunks(await store.stale_keys(before), BATCH_SIZE):
        unused = set(chunk) - await keys_in_use(db, set(chunk))
        for key in sorted(unused):
            removed += await store.delete_stale(key, before)
    return removed


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
