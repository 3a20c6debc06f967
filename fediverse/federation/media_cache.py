"""Remote files fetched into our media store, so pages and clients load them from our origin (decision 0059).

A file (a ``REMOTE`` ``Media`` row: an attachment, an avatar, a header, an emoji) is fetched from the one URL
its row records, through the SSRF-safe fetcher (public addresses only, pinned, redirects vetted, at most
``MAX_REMOTE_IMAGE_BYTES``), decoded under the image limits (JPEG, PNG, WebP or GIF; pixels and sides checked
from the header, before decoding: no decompression bomb gets decoded) and stored as our own uploads are:
an original, a display copy, a thumbnail, a blurhash, metadata stripped.

A file that cannot become an image by asking again (404 or 410, too large, not an image, too many pixels,
damaged, an unsafe address, a blocked domain) is given up at once and its reason kept on the row
(``Media.fetch_error``): pages draw its placeholder and nothing fetches it again. A network failure or a
5xx is tried again with backoff, ``MAX_ATTEMPTS`` times, then given up the same way.

The worker's ``RemoteMediaQueue`` fetches what ingestion queued. ``fetch_on_demand`` is for a request for
a file that is not cached (pruned by housekeeping after ``REVERIE_REMOTE_MEDIA_DAYS``, or not fetched yet):
it queues the file again and fetches it at once, claiming its ``MediaFetch`` row like a worker, so two
processes never fetch the same file at the same time (Mastodon's ``MediaProxyController`` does the same).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from activitypub.errors import (
    FetchError,
    ResponseTooLargeError,
    TooManyRedirectsError,
    UnsafeAddressError,
    UnsupportedURLError,
)
from activitypub.fetch import get_safely
from fediverse.core.domain_blocks import blocked_hosts
from fediverse.core.media_files import forget_files
from fediverse.federation.retries import TRANSIENT_ERRORS, attempt_change
from fediverse.imaging.decode import ImageLimits, ImageRejected
from fediverse.imaging.pipeline import ImagingOptions, ProcessedImage, process_image
from fediverse.services import Services
from storage.claims import claim_due
from storage.dialects import insert_for
from storage.models import Media, MediaFetch, MediaState, WorkState
from storage.types import utcnow

log = logging.getLogger(__name__)

#: The largest remote file we download: Mastodon's limit for remote images (``MediaAttachment::IMAGE_LIMIT``).
MAX_REMOTE_IMAGE_BYTES = 16 * 1024 * 1024
#: Pixel and side limits are our uploads' (``imaging.decode.ImageLimits``); only the byte cap is lower.
REMOTE_IMAGE_LIMITS = ImageLimits(max_bytes=MAX_REMOTE_IMAGE_BYTES)
IMAGE_ACCEPT = "image/webp,image/png,image/jpeg,image/gif;q=0.9,image/*;q=0.8"
#: Network failures and 5xx answers: tried this often (with backoff), then given up.
MAX_ATTEMPTS = 5
#: A claimed fetch: at most 30 s of network (``activitypub.fetch``) and a decode; a crashed worker's
#: claim is free again after this.
LOCK_FOR = timedelta(minutes=2)
#: How long a request waits for a fetch another worker is doing before it answers "not yet".
WAIT_FOR_OTHERS = timedelta(seconds=10)
WAIT_STEP_SECONDS = 0.2
#: Files one process fetches on demand at once (each held in memory, up to ``MAX_REMOTE_IMAGE_BYTES``, until
#: decoded); further requests wait their turn, then answer "not yet".
ON_DEMAND_AT_ONCE = 4
#: The reason kept when a file failed ``MAX_ATTEMPTS`` times for reasons that might have passed.
UNREACHABLE = "unreachable"


class MediaUnavailable(ValueError):
    """The remote file will not become an image here by asking again; ``reason`` is kept on its row."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class RemoteFile:
    """What a fetch needs of a ``REMOTE`` row (read in one unit, detached from its session)."""

    media_id: int
    url: str
    cached: bool
    fetch_error: str | None


def _remote_file(session: Session, media_id: int) -> RemoteFile | None:
    row = session.execute(
        select(col(Media.remote_url), col(Media.original_key), col(Media.fetch_error)).where(
            col(Media.id) == media_id, col(Media.state) == MediaState.REMOTE
        )
    ).first()
    if row is None or not row[0]:
        return None
    return RemoteFile(media_id, row[0], row[1] is not None, row[2])


async def cache_file(services: Services, media_id: int) -> None:
    """Fetch the file of ``media_id`` and store it; nothing when it is cached, given up, or gone meanwhile.
    Raises ``MediaUnavailable`` (for good) or one of ``retries.TRANSIENT_ERRORS`` (try again later)."""
    found = await services.db.read(lambda session: _remote_file(session, media_id))
    if found is None or found.cached or found.fetch_error is not None:
        return
    data = await _download(services, found.url)
    try:
        processed = await process_image(data, ImagingOptions(limits=REMOTE_IMAGE_LIMITS))
    except ImageRejected as rejected:
        raise MediaUnavailable(rejected.reason, rejected.detail) from rejected
    keys = [
        await services.media.put(processed.original.data, processed.original.mime),
        await services.media.put(processed.display.data, processed.display.mime),
        await services.media.put(processed.thumbnail.data, processed.thumbnail.mime),
    ]
    stored = await services.db.write(lambda session: _record_cached(session, media_id, processed, keys, utcnow()))
    if not stored:  # the row went (its post was deleted) or another process cached it first
        await forget_files(services.db, services.media, keys)


async def _download(services: Services, url: str) -> bytes:
    host = urlsplit(url).netloc
    async with services.db.session() as session:
        if await blocked_hosts(session, [host]):
            raise MediaUnavailable("blocked", host)
    try:
        response = await get_safely(
            services.http,
            url,
            accept=IMAGE_ACCEPT,
            allow_private=services.settings.allow_private_addresses,
            max_bytes=MAX_REMOTE_IMAGE_BYTES,
        )
    except ResponseTooLargeError as error:
        raise MediaUnavailable("too_large", f"over {MAX_REMOTE_IMAGE_BYTES} bytes") from error
    except (UnsupportedURLError, UnsafeAddressError, TooManyRedirectsError) as error:
        raise MediaUnavailable("refused", str(error)) from error
    status = response.status_code
    if status in (404, 410):
        raise MediaUnavailable("gone", f"HTTP {status}")
    if status == 408 or status == 429 or status >= 500:
        raise FetchError("the file's server failed", url=url, status=status)
    if not 200 <= status < 300:
        raise MediaUnavailable("refused", f"HTTP {status}")
    return response.content


def _record_cached(session: Session, media_id: int, processed: ProcessedImage, keys: list[str], now: datetime) -> bool:
    original_key, display_key, thumbnail_key = keys
    result = session.execute(
        update(Media)
        .where(col(Media.id) == media_id, col(Media.state) == MediaState.REMOTE, col(Media.original_key).is_(None))
        .values(
            original_key=original_key,
            display_key=display_key,
            thumbnail_key=thumbnail_key,
            mime=processed.original.mime,
            width=processed.width,
            height=processed.height,
            size_bytes=len(processed.original.data),
            sha256=hashlib.sha256(processed.original.data).hexdigest(),
            # The sender's blurhash, when it gave one, is what pages drew until now: keep it.
            blurhash=func.coalesce(col(Media.blurhash), processed.blurhash),
            cached_at=now,
            fetch_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def attempt(services: Services, row: MediaFetch) -> dict[str, Any]:
    """Try one claimed fetch; the ``MediaFetch`` change to record (``record_attempts``)."""
    error: BaseException | None = None
    try:
        await cache_file(services, row.media_id)
    except MediaUnavailable as refused:
        error = refused
    except TRANSIENT_ERRORS as failure:
        error = failure
    change = attempt_change(
        row.id, row.attempts, error, max_attempts=MAX_ATTEMPTS, now=utcnow(), done_column="finished_at"
    )
    if change.get("state") == WorkState.FAILED:
        reason = error.reason if isinstance(error, MediaUnavailable) else UNREACHABLE
        change["media_id"] = row.media_id
        change["reason"] = reason
        log.info("remote file of media %s given up (%s): %s", row.media_id, reason, change["last_error"])
    return change


async def record_attempts(services: Services, changes: Sequence[dict[str, Any]]) -> None:
    """Write what attempts changed, in one transaction: the ``MediaFetch`` rows, and the reason on each
    file given up (so pages draw its placeholder and nothing asks for it again)."""
    if not changes:
        return
    fetch_changes = [
        {key: value for key, value in change.items() if key not in ("media_id", "reason")} for change in changes
    ]
    failures = [(change["media_id"], change["reason"]) for change in changes if "reason" in change]

    def write(session: Session) -> None:
        session.execute(update(MediaFetch), fetch_changes)
        for media_id, reason in failures:
            session.execute(
                update(Media)
                .where(col(Media.id) == media_id, col(Media.original_key).is_(None))
                .values(fetch_error=reason[:64])
                .execution_options(synchronize_session=False)
            )

    await services.db.write(write)


class Waiting(Exception):
    """Someone else holds the file's fetch, or it waits for a retry: ask again later."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry in {retry_after} s")
        self.retry_after = retry_after


async def fetch_on_demand(services: Services, media_id: int) -> None:
    """Make the file of ``media_id`` cached now, if it can be: queue it again (a file housekeeping pruned
    had finished), claim it and fetch it here; when another process holds it, wait for that one a while.
    Returns when the file is cached or given up (read the row again to know which); raises ``Waiting``
    when neither happened in time (a fetch elsewhere still running, or a retry not yet due)."""
    slots = _on_demand_slots.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(ON_DEMAND_AT_ONCE))
    try:
        async with asyncio.timeout(WAIT_FOR_OTHERS.total_seconds()):
            await slots.acquire()
    except TimeoutError:
        raise Waiting(5) from None
    try:
        claimed = await _queue_and_claim(services, media_id)
        if claimed:
            await record_attempts(services, [await attempt(services, claimed[0])])
            return
    finally:
        slots.release()
    await _wait_for_others(services, media_id)


#: Per event loop (a process has one; tests start many), like ``imaging.gate``'s turns.
_on_demand_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


async def _queue_and_claim(services: Services, media_id: int) -> list[MediaFetch]:
    """Queue the file again if its fetch had finished (it was pruned), and claim it if it is due and free."""
    async with services.db.transaction() as session:
        dialect_insert = insert_for(session.get_bind().dialect.name)
        now = utcnow()
        table = MediaFetch.__table__  # type: ignore[attr-defined]
        await session.execute(
            dialect_insert(MediaFetch)
            .values(media_id=media_id, state=WorkState.QUEUED, attempts=0, next_attempt_at=now, created_at=now)
            .on_conflict_do_update(
                index_elements=["media_id"],
                set_={"state": WorkState.QUEUED, "attempts": 0, "next_attempt_at": now, "finished_at": None},
                where=table.c.state == WorkState.DONE,
            )
        )
        return await claim_due(
            session, MediaFetch, limit=1, lock_for=LOCK_FOR, extra_where=[col(MediaFetch.media_id) == media_id]
        )


async def _wait_for_others(services: Services, media_id: int) -> None:
    deadline = utcnow() + WAIT_FOR_OTHERS
    while True:
        state = await services.db.read(lambda session: _fetch_state(session, media_id))
        if state is None:
            return
        settled, locked_until, next_attempt_at = state
        now = utcnow()
        if settled:
            return
        if locked_until is None or locked_until <= now:  # nobody is fetching it: a retry is due later
            raise Waiting(max(1, int((next_attempt_at - now).total_seconds())))
        if now >= deadline:
            raise Waiting(5)
        await asyncio.sleep(WAIT_STEP_SECONDS)


def _fetch_state(session: Session, media_id: int) -> tuple[bool, datetime | None, datetime] | None:
    """(cached or given up, the fetch's lock, its next attempt); ``None`` when the file has no fetch."""
    row = session.execute(
        select(
            col(Media.original_key),
            col(Media.fetch_error),
            col(MediaFetch.locked_until),
            col(MediaFetch.next_attempt_at),
        )
        .join(MediaFetch, col(MediaFetch.media_id) == col(Media.id))
        .where(col(Media.id) == media_id)
    ).first()
    if row is None:
        return None
    original_key, fetch_error, locked_until, next_attempt_at = row
    return (original_key is not None or fetch_error is not None), locked_until, next_attempt_at
