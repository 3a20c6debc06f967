"""One housekeeping sweep: expired drafts, old deletion markers, orphan media files, finished inbox
items and deliveries, expired sign-in sessions, old post changes (the streaming API's), and the
remote media cache (copies older than ``REVERIE_REMOTE_MEDIA_DAYS``, remote rows nothing uses any more;
decision 0059).

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
from typing import Any, cast

from sqlalchemy import CursorResult, delete, exists, or_, select, update
from sqlmodel import col

from fediverse.core.media_files import forget_files, keys_in_use
from fediverse.services import Services
from storage.db import Database
from storage.media import MediaStore
from storage.models import (
    Actor,
    CustomEmoji,
    DeletedObject,
    Delivery,
    InboxItem,
    Media,
    MediaFetch,
    MediaState,
    PostChange,
    PostMedia,
    RemoteFetch,
    WebSession,
    WorkState,
)
from storage.types import utcnow

log = logging.getLogger(__name__)

#: How long "this was deleted before we saw it created" is remembered. Mastodon keeps 6 h (in Redis);
#: senders retry a Create for days (we do for about two), so we keep a month.
DELETION_MARKER_RETENTION = timedelta(days=30)
#: A file no row uses is left alone this long: files are stored before their row commits, and a
#: generation job may paint for up to an hour (``REVERIE_GENERATION_TIMEOUT``'s upper bound) first.
ORPHAN_FILE_GRACE = timedelta(hours=6)
#: Finished inbox items and deliveries are kept this long (to see what happened to them), then go: one
#: post to 10,000 followers leaves up to 10,000 delivery rows.
FINISHED_WORK_RETENTION = timedelta(days=7)
#: The streaming API reads post changes within seconds (decision 0057); an hour is plenty.
POST_CHANGE_RETENTION = timedelta(hours=1)
#: A remote media row nothing uses (an edited post's old attachment, an actor's former avatar) goes after
#: this long: rows are created in the transaction that links them, so this is only a margin.
UNUSED_REMOTE_MEDIA_GRACE = timedelta(hours=1)
BATCH_SIZE = 500
FINISHED_STATES = (WorkState.DONE, WorkState.FAILED, WorkState.GONE)


@dataclass(frozen=True)
class SweepReport:
    """What one sweep removed."""

    drafts: int = 0
    deletion_markers: int = 0
    files: int = 0
    finished_work: int = 0
    sessions: int = 0
    post_changes: int = 0
    remote_copies: int = 0  # remote files whose cached copies were pruned (fetched again when viewed)
    remote_rows: int = 0  # remote media rows nothing used any more

    @property
    def total(self) -> int:
        return (
            self.drafts
            + self.deletion_markers
            + self.files
            + self.finished_work
            + self.sessions
            + self.post_changes
            + self.remote_copies
            + self.remote_rows
        )

    def describe(self) -> str:
        return (
            f"removed {self.drafts} expired draft image(s), {self.files} unused file(s), "
            f"{self.deletion_markers} old deletion marker(s), {self.finished_work} finished "
            f"inbox item(s) and deliveries, {self.sessions} expired sign-in session(s), {self.post_changes} "
            f"old post change(s), the cached copies of {self.remote_copies} remote picture(s) and "
            f"{self.remote_rows} unused remote picture(s)"
        )


async def sweep(services: Services, now: datetime | None = None, *, orphan_files: bool = True) -> SweepReport:
    """Remove what has expired at ``now`` (default: the present). ``orphan_files`` walks the media folder,
    the one step whose cost grows with the instance; the worker does it less often."""
    now = now or utcnow()
    db, store = services.db, services.media
    drafts, draft_keys = await expire_drafts(db, now - timedelta(hours=services.settings.draft_retention_hours))
    draft_files = await forget_files(db, store, draft_keys)
    remote_copies, copy_keys = 0, set[str]()
    if services.settings.remote_media_days:
        remote_copies, copy_keys = await uncache_remote_media(
            db, now - timedelta(days=services.settings.remote_media_days)
        )
    remote_rows, row_keys = await remove_unused_remote_media(db, now - UNUSED_REMOTE_MEDIA_GRACE)
    remote_files = await forget_files(db, store, copy_keys | row_keys)
    markers = await prune_deletion_markers(db, now - DELETION_MARKER_RETENTION)
    orphans = await remove_orphan_files(db, store, now - ORPHAN_FILE_GRACE) if orphan_files else 0
    report = SweepReport(
        drafts=drafts,
        deletion_markers=markers,
        files=len(draft_files) + len(remote_files) + orphans,
        finished_work=await prune_finished_work(db, now - FINISHED_WORK_RETENTION),
        sessions=await delete_in_batches(db, WebSession.token_hash, WebSession.expires_at < now),
        post_changes=await delete_in_batches(db, PostChange.id, PostChange.changed_at < now - POST_CHANGE_RETENTION),
        remote_copies=remote_copies,
        remote_rows=remote_rows,
    )
    if report.total:
        log.info("housekeeping %s", report.describe())
    return report


async def expire_drafts(db: Database, before: datetime) -> tuple[int, set[str]]:
    """Delete draft images created before ``before``: how many, and the keys of their files (to forget
    after the commit, which this function has done)."""
    expired = (col(Media.state) == MediaState.DRAFT, col(Media.created_at) < before)
    removed, keys = 0, set[str]()
    while True:
        async with db.session() as session:
            ids = list(
                await session.scalars(select(col(Media.id)).where(*expired).order_by(col(Media.id)).limit(BATCH_SIZE))
            )
        if not ids:
            break
        async with db.transaction() as session:
            rows = await session.execute(
                delete(Media)
                .where(col(Media.id).in_(ids), *expired)
                .returning(col(Media.original_key), col(Media.display_key), col(Media.thumbnail_key))
                .execution_options(synchronize_session=False)
            )
            deleted = rows.all()
        removed += len(deleted)
        keys.update(key for row in deleted for key in row if key)
        if len(ids) < BATCH_SIZE:
            break
    return removed, keys


async def uncache_remote_media(db: Database, before: datetime) -> tuple[int, set[str]]:
    """Forget the cached copies of remote files stored before ``before``: the rows stay (with their URL, size,
    blurhash and alt text) and the file is fetched again when someone views it. Returns how many, and the
    keys of the files to forget after the commit (done here)."""
    old = (col(Media.state) == MediaState.REMOTE, col(Media.cached_at) < before)
    pruned, keys = 0, set[str]()
    while True:
        async with db.session() as session:
            ids = list(await session.scalars(select(col(Media.id)).where(*old).limit(BATCH_SIZE)))
        if not ids:
            break
        async with db.transaction() as session:
            found = (
                await session.execute(
                    select(col(Media.id), col(Media.original_key), col(Media.display_key), col(Media.thumbnail_key))
                    .where(col(Media.id).in_(ids), *old)
                    .with_for_update()
                )
            ).all()
            await session.execute(
                update(Media)
                .where(col(Media.id).in_([row[0] for row in found]))
                .values(original_key=None, display_key=None, thumbnail_key=None, cached_at=None)
                .execution_options(synchronize_session=False)
            )
        keys.update(key for row in found for key in row[1:] if key)
        pruned += len(found)
        if len(ids) < BATCH_SIZE:
            break
    return pruned, keys


async def remove_unused_remote_media(db: Database, before: datetime) -> tuple[int, set[str]]:
    """Delete remote media rows created before ``before`` that no post, avatar, header or emoji uses any more (an
    edited post's former attachments, an actor's former avatar), with their fetches. Returns how many, and
    the keys of their cached files to forget after the commit."""
    unused = (
        col(Media.state) == MediaState.REMOTE,
        col(Media.created_at) < before,
        ~exists().where(col(PostMedia.media_id) == col(Media.id)),
        ~exists().where(or_(col(Actor.avatar_media_id) == col(Media.id), col(Actor.header_media_id) == col(Media.id))),
        ~exists().where(col(CustomEmoji.media_id) == col(Media.id)),
    )
    removed, keys = 0, set[str]()
    while True:
        async with db.session() as session:
            ids = list(await session.scalars(select(col(Media.id)).where(*unused).limit(BATCH_SIZE)))
        if not ids:
            break
        async with db.transaction() as session:
            rows = await session.execute(
                delete(Media)
                .where(col(Media.id).in_(ids), *unused)
                .returning(col(Media.id), col(Media.original_key), col(Media.display_key), col(Media.thumbnail_key))
                .execution_options(synchronize_session=False)
            )
            deleted = rows.all()
            gone = [row[0] for row in deleted]
            if gone:
                await session.execute(delete(MediaFetch).where(col(MediaFetch.media_id).in_(gone)))
        removed += len(deleted)
        keys.update(key for row in deleted for key in row[1:] if key)
        if len(ids) < BATCH_SIZE:
            break
    return removed, keys


async def prune_deletion_markers(db: Database, before: datetime) -> int:
    """Forget deletes-before-creates recorded before ``before`` (``DeletedObject``)."""
    return await delete_in_batches(db, DeletedObject.ap_id, DeletedObject.deleted_at < before)


async def prune_finished_work(db: Database, before: datetime) -> int:
    """Delete inbox items, deliveries, thread and media fetches that finished (applied, sent, failed or gone)
    and were last due before ``before``; the (state, next attempt) index finds them. A remote file given up
    stays given up: its reason is on its media row."""
    removed = 0
    for key, state, last_due in (
        (col(InboxItem.id), col(InboxItem.state), col(InboxItem.next_attempt_at)),
        (col(Delivery.id), col(Delivery.state), col(Delivery.next_attempt_at)),
        (col(RemoteFetch.id), col(RemoteFetch.state), col(RemoteFetch.next_attempt_at)),
        (col(MediaFetch.id), col(MediaFetch.state), col(MediaFetch.next_attempt_at)),
    ):
        removed += await delete_in_batches(db, key, state.in_(FINISHED_STATES), last_due < before)
    return removed


async def delete_in_batches(db: Database, key: Any, *conditions: Any) -> int:
    """Delete the rows of ``key``'s table that meet ``conditions``, ``BATCH_SIZE`` at a time: found by a
    read first (a sweep with nothing to do takes no write lock), deleted with the conditions restated
    (a row that changed meanwhile stays)."""
    removed = 0
    while True:
        async with db.session() as session:
            keys = list(await session.scalars(select(key).where(*conditions).limit(BATCH_SIZE)))
        if not keys:
            return removed
        async with db.transaction() as session:
            result = await session.execute(
                delete(key.table).where(key.in_(keys), *conditions).execution_options(synchronize_session=False)
            )
        removed += cast(CursorResult[Any], result).rowcount
        if len(keys) < BATCH_SIZE:
            return removed


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
