"""Draft media rows: uploads and generated images waiting to be published, their edits, and their JSON.

A draft belongs to one account and stays a draft until a post attaches it; only drafts may be edited
here or discarded (an attached image is changed by editing its post).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, TooManyRequests, UnsupportedMediaType
from fediverse.core.media_files import forget_files, keys_of
from fediverse.core.urls import Urls
from fediverse.generation import GeneratedImage
from fediverse.generation.provenance import (
    generation_metadata,
    provenance_from_block,
    provenance_from_image,
    read_machine_source_type,
)
from fediverse.imaging import ImageRejected, process_image
from fediverse.services import Services
from fediverse.studio.events import COMPLETED
from fediverse.studio.files import Stamp, prepare_generated, restamp, store_files
from storage.db import Database
from storage.media import mime_of_key
from storage.models import Account, GenerationJob, JobEvent, Media, MediaState

MAX_ALT_TEXT = 1500  # Mastodon's limit for local descriptions

#: ``ImageRejected.reason`` -> the error a person uploading sees.
_REJECTIONS: dict[str, type[BadRequest | PayloadTooLarge | UnsupportedMediaType]] = {
    "too_large": PayloadTooLarge,
    "too_many_pixels": PayloadTooLarge,
    "not_an_image": UnsupportedMediaType,
}


def media_json(media: Media, urls: Urls) -> dict[str, Any]:
    """MEDIA in the API contract: the display copy's URL and size, the thumbnail, alt text, provenance."""
    document: dict[str, Any] = {
        "id": media.id,
        "url": urls.media_url(media.display_key) if media.display_key else media.remote_url,
        "thumbnail_url": urls.media_url(media.thumbnail_key) if media.thumbnail_key else None,
        "width": media.width,
        "height": media.height,
        "blurhash": media.blurhash,
        "alt_text": media.alt_text,
        "mime": media.mime,
        "focal_x": media.focal_x,
        "focal_y": media.focal_y,
    }
    if media.generation:
        document["seed"] = media.generation.get("seed")
        document["generation"] = media.generation
    if media.digital_source_type:
        document["digital_source_type"] = media.digital_source_type
    return document


async def check_draft_room(session: AsyncSession, account_id: int, max_drafts: int) -> None:
    """Refuse (429) new drafts beyond the per-account allowance, so nobody fills the disk by accident."""
    drafts = await session.scalar(
        select(func.count())
        .select_from(Media)
        .where(col(Media.owner_account_id) == account_id, col(Media.state) == MediaState.DRAFT)
    )
    if (drafts or 0) >= max_drafts:
        raise TooManyRequests(f"You have {drafts} unpublished images; publish or delete some first.", retry_after=60)


async def create_upload(services: Services, account: Account, data: bytes, alt_text: str = "") -> Media:
    """An uploaded image as a draft: re-encoded without its metadata, in three sizes, with a blurhash.

    Uploads carry no generation data (no prompt is ever shown for them); only a file that itself declares
    an IPTC machine-made source type keeps it, so it is labelled as the AI image it says it is.
    """
    assert account.id is not None
    async with services.db.session() as session:
        await check_draft_room(session, account.id, services.studio.options.max_drafts)
    try:
        processed = await process_image(data)
    except ImageRejected as error:
        raise _REJECTIONS.get(error.reason, BadRequest)(str(error), detail=error.detail) from error
    source_type = await asyncio.to_thread(read_machine_source_type, data)
    files = await store_files(services.media, processed)
    media = files.apply_to(
        Media(
            owner_account_id=account.id,
            state=MediaState.DRAFT,
            mime=files.mime,
            alt_text=alt_text[:MAX_ALT_TEXT],
            digital_source_type=source_type,
        )
    )
    async with services.db.transaction() as session:
        session.add(media)
    return media


async def create_generated_media(
    services: Services, job: GenerationJob, images: Sequence[GeneratedImage]
) -> list[Media]:
    """Stamp, process and store a job's images; the unsaved draft rows, for the job's final transaction."""
    credentials = await services.studio.signing_credentials()
    request = job.request
    rows = []
    for image in images:
        info = provenance_from_image(
            image,
            prompt=request["prompt"],
            negative_prompt=request.get("negative_prompt") or "",
            remix_of=request.get("remix_of"),
        )
        files = await store_files(services.media, await prepare_generated(image, Stamp(info, credentials)))
        row = Media(
            owner_account_id=job.account_id,
            state=MediaState.DRAFT,
            mime=files.mime,
            alt_text=image.alt_text[:MAX_ALT_TEXT],
            digital_source_type=image.digital_source_type,
            generation=generation_metadata(info),
            job_id=job.id,
        )
        rows.append(files.apply_to(row))
    return rows


async def load_job_media(db: Database, job_id: int | None) -> list[Media]:
    async with db.session() as session:
        return list(await session.scalars(select(Media).where(col(Media.job_id) == job_id).order_by(col(Media.id))))


async def load_own_drafts(db: Database, account: Account, media_ids: Sequence[int]) -> list[Media]:
    """The account's drafts among ``media_ids``, in that order; others' images and published ones are left out."""
    async with db.session() as session:
        rows = await session.scalars(
            select(Media).where(
                col(Media.id).in_(list(media_ids)),
                col(Media.owner_account_id) == account.id,
                col(Media.state) == MediaState.DRAFT,
            )
        )
        found = {row.id: row for row in rows}
    return [found[media_id] for media_id in dict.fromkeys(media_ids) if media_id in found]


async def load_own_draft(session: AsyncSession, account: Account, media_id: int) -> Media:
    media = await session.get(Media, media_id, with_for_update=True)
    if media is None or media.owner_account_id != account.id:
        raise NotFound("No such image.")
    if media.state != MediaState.DRAFT:
        raise Conflict("This image is part of a post; edit the post instead.")
    return media


async def update_draft(
    services: Services,
    account: Account,
    media_id: int,
    *,
    alt_text: str | None = None,
    focal_x: float | None = None,
    focal_y: float | None = None,
) -> Media:
    if alt_text is not None and len(alt_text) > MAX_ALT_TEXT:
        raise BadRequest(f"Alt text may have at most {MAX_ALT_TEXT} characters.")
    for value in (focal_x, focal_y):
        if value is not None and not -1.0 <= value <= 1.0:
            raise BadRequest("The focal point is given from -1 to 1 on each axis.")
    async with services.db.transaction() as session:
        media = await load_own_draft(session, account, media_id)
        if alt_text is not None:
            media.alt_text = alt_text
        if focal_x is not None:
            media.focal_x = focal_x
        if focal_y is not None:
            media.focal_y = focal_y
    return media


async def discard_draft(services: Services, account: Account, media_id: int) -> None:
    """Delete a draft and the files nothing else uses."""
    async with services.db.transaction() as session:
        media = await load_own_draft(session, account, media_id)
        keys = keys_of(media)
        await session.delete(media)
    await forget_files(services.db, services.media, keys)


async def generator_alt_texts(db: Database, media: Sequence[Media]) -> dict[int, str]:
    """The alt text each generated draft came with, as its job's ``completed`` event recorded it: the
    generator's description, written from the prompt (to tell it from one the author wrote)."""
    job_ids = {item.job_id for item in media if item.generation and item.job_id is not None}
    if not job_ids:
        return {}
    async with db.session() as session:
        events = await session.scalars(
            select(JobEvent).where(JobEvent.job_id.in_(job_ids), JobEvent.event == COMPLETED)  # type: ignore[attr-defined,arg-type]
        )
        documents = [document for event in events for document in event.data.get("media", [])]
    return {
        document["id"]: document["alt_text"]
        for document in documents
        if isinstance(document, dict)
        and isinstance(document.get("id"), int)
        and isinstance(document.get("alt_text"), str)
    }


async def hide_prompt_in_files(services: Services, media: Sequence[Media]) -> None:
    """Stamp generated drafts afresh with only what a hidden prompt lets them say (the file said more:
    the prompt, the seed, the backend's parameters; the author hides them now)."""
    credentials = await services.studio.signing_credentials()
    replaced: set[str] = set()
    for item in media:
        if not item.generation or not item.original_key:
            continue
        old_key = item.original_key
        mime = mime_of_key(old_key)
        stamp = Stamp(provenance_from_block(item.generation, hide_prompt=True), credentials)
        data = await restamp(await services.media.get(old_key), mime, stamp)
        new_key = await services.media.put(data, mime)
        async with services.db.transaction() as session:
            row = await session.get(Media, item.id, with_for_update=True)
            if row is None or row.original_key != old_key:
                continue  # changed meanwhile; publishing checks the row again
            if row.display_key == old_key:
                row.display_key = new_key
                row.size_bytes = len(data)
            row.original_key, row.sha256 = new_key, hashlib.sha256(data).hexdigest()
        item.original_key, item.display_key = row.original_key, row.display_key
        replaced.add(old_key)
    await forget_files(services.db, services.media, replaced)
