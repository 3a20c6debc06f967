"""An archive of everything one local account posted, in Mastodon's layout (``app/services/backup_service.rb``):
a zip holding

- ``outbox.json``: an ``OrderedCollection`` (with ``@context``) of the account's ``Create`` activities, every
  visibility, oldest first, shaped as our outbox serves them, and its boosts as ``Announce``; an
  attachment's ``url`` is the picture's path inside the zip;
- ``media_attachments/files/…``: the original of every picture those posts carry;
- ``likes.json`` and ``bookmarks.json``: ``OrderedCollection``s of the ids of the posts it liked and bookmarked;
- ``actor.json``: its actor document, with ``outbox``, ``likes`` and ``bookmarks`` naming those files and
  ``icon``/``image`` naming ``avatar.*`` and ``header.*``, also in the zip.

The posts are read a page at a time (one unit of work each) and written as they come, so an account with
many posts never sits whole in memory; the zip is written in a thread, off the event loop. The file is
written under a temporary name and renamed once complete, 0600 in a 0700 folder (decision 0008).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from activitypub.vocab import CONTEXT, PUBLIC, JsonObject, with_context
from fediverse.core.accounts import LocalActor, find_local_actor
from fediverse.core.errors import NotFound
from fediverse.core.urls import Urls
from fediverse.federation.documents import ActorImages, actor_document, format_datetime
from fediverse.federation.notes import PostView, create_activity
from fediverse.reads.post_views import WITHOUT_RAW_POST, post_views
from fediverse.services import Services
from fediverse.social.profiles import actor_images
from storage.media import MediaKeyError, mime_of_key
from storage.models import Actor, Announce, Bookmark, Like, Media, Post
from storage.private_files import PRIVATE_FILE_MODE, make_private_folders

#: Posts per read while writing ``outbox.json``.
PAGE = 200
MEDIA_FOLDER = "media_attachments/files"
OUTBOX, LIKES, BOOKMARKS, ACTOR = "outbox.json", "likes.json", "bookmarks.json", "actor.json"


@dataclass(frozen=True)
class ArchiveSummary:
    posts: int
    boosts: int
    media_files: int
    size_bytes: int


def archives_folder(data_dir: Path) -> Path:
    return data_dir / "archives"


def new_archive_name(username: str) -> str:
    """A stored archive's file name: whose it is, and unguessable (never served without the owner check)."""
    return f"archive-{username}-{secrets.token_hex(12)}.zip"


async def write_archive(services: Services, username: str, destination: Path) -> ArchiveSummary:
    """Write the archive of ``username`` to ``destination`` (replaced whole once complete)."""
    account = await services.db.read(lambda session: find_local_actor(session, username))
    if account is None or account.disabled_at is not None:
        raise NotFound(f"No local account named {username!r} (or it is suspended).")
    partial = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.partial")
    make_private_folders(destination.parent)
    try:
        with _private_zip(partial) as archive:
            writer = _Writer(archive)
            posts, boosts, keys = await _write_outbox(services, account, writer)
            media = await _write_media(services, writer, keys)
            await _write_collection(services, writer, LIKES, account, _liked)
            await _write_collection(services, writer, BOOKMARKS, account, _bookmarked)
            await _write_actor(services, writer, account)
        await asyncio.to_thread(os.replace, partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return ArchiveSummary(posts, boosts, media, destination.stat().st_size)


@contextmanager
def _private_zip(path: Path) -> Iterator[zipfile.ZipFile]:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "wb") as file, zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive:
        yield archive


class _Writer:
    """The zip, written from a worker thread one call at a time."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive

    async def open(self, name: str) -> IO[bytes]:
        return await asyncio.to_thread(self.archive.open, name, "w", force_zip64=True)

    async def write(self, stream: IO[bytes], text: str) -> None:
        await asyncio.to_thread(stream.write, text.encode("utf-8"))

    async def close(self, stream: IO[bytes]) -> None:
        await asyncio.to_thread(stream.close)

    async def file(self, name: str, source: Path) -> None:
        await asyncio.to_thread(self.archive.write, source, name)

    async def data(self, name: str, data: bytes) -> None:
        await asyncio.to_thread(self.archive.writestr, name, data)


def _dumps(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _head(collection_id: str) -> str:
    """The start of an ``OrderedCollection`` whose ``orderedItems`` follow (``totalItems`` comes after them:
    the count is known only once they are written)."""
    skeleton = _dumps(with_context({"id": collection_id, "type": "OrderedCollection"}))
    return skeleton[:-1] + ',"orderedItems":['


async def _write_outbox(services: Services, account: LocalActor, writer: _Writer) -> tuple[int, int, list[str]]:
    """``outbox.json``: every post (``Create``) and boost (``Announce``), oldest first. Returns the counts and
    the media keys the posts' attachments point to."""
    stream = await writer.open(OUTBOX)
    await writer.write(stream, _head(OUTBOX))
    keys: list[str] = []
    posts = boosts = 0
    after = 0
    while True:
        views = await services.db.read(lambda session, after=after: _posts_after(session, account.id, after))  # type: ignore[misc]
        if not views:
            break
        items = [_archived_create(view, services.urls, keys) for view in views]
        await writer.write(stream, ("," if posts else "") + ",".join(_dumps(item) for item in items))
        posts += len(items)
        after = views[-1].post.id
    for announce in await services.db.read(lambda session: _boosts(session, account)):
        await writer.write(stream, ("," if posts + boosts else "") + _dumps(announce))
        boosts += 1
    await writer.write(stream, f'],"totalItems":{posts + boosts}}}')
    await writer.close(stream)
    return posts, boosts, keys


def _posts_after(session: Session, author_id: int, after: int) -> list[PostView]:
    posts = session.scalars(
        select(Post)
        .where(col(Post.author_id) == author_id, col(Post.deleted_at).is_(None), col(Post.id) > after)
        .order_by(col(Post.id))
        .limit(PAGE)
        .options(WITHOUT_RAW_POST)
    ).all()
    return post_views(session, posts)


def archived_path(key: str) -> str:
    """Where a media file sits inside the archive."""
    return f"{MEDIA_FOLDER}/{key}"


def _archived_create(view: PostView, urls: Urls, keys: list[str]) -> JsonObject:
    """The post's ``Create`` as the outbox serves it, its pictures pointing into the archive (the original
    file, as Mastodon's archive keeps originals)."""
    activity = create_activity(view, urls, context=False)
    attachments = activity["object"].get("attachment") or []
    for document, media in zip(attachments, view.media, strict=False):
        key = media.original_key or media.display_key
        if key is None:
            continue
        keys.append(key)
        document["url"] = archived_path(key)
        document["mediaType"] = mime_of_key(key)
    return activity


def _boosts(session: Session, account: LocalActor) -> list[JsonObject]:
    rows = session.execute(
        select(Announce, col(Post.ap_id), col(Actor.ap_id))
        .join(Post, col(Post.id) == col(Announce.post_id))
        .join(Actor, col(Actor.id) == col(Post.author_id))
        .where(col(Announce.actor_id) == account.id, col(Post.deleted_at).is_(None))
        .order_by(col(Announce.id))
    ).all()
    followers = f"{account.ap_id}/followers"
    return [
        {
            "id": announce.ap_id or f"{post_id}#boosted-by-{account.username}",
            "type": "Announce",
            "actor": account.ap_id,
            "published": format_datetime(announce.published),
            "to": [PUBLIC],
            "cc": [author_id, followers],
            "object": post_id,
        }
        for announce, post_id, author_id in rows
    ]


async def _write_media(services: Services, writer: _Writer, keys: list[str]) -> int:
    written = 0
    for key in dict.fromkeys(keys):
        if await _copy_media(services, writer, archived_path(key), key):
            written += 1
    return written


async def _copy_media(services: Services, writer: _Writer, name: str, key: str) -> bool:
    """One stored file into the zip; a file missing from the store is left out (as Mastodon does)."""
    try:
        path = services.media.local_path(key)
        if path is not None:
            if not await asyncio.to_thread(path.is_file):
                return False
            await writer.file(name, path)
        else:
            await writer.data(name, await services.media.get(key))
    except (MediaKeyError, FileNotFoundError):
        return False
    return True


def _liked(session: Session, account: LocalActor) -> list[str]:
    return list(
        session.scalars(
            select(col(Post.ap_id))
            .join(Like, col(Like.post_id) == col(Post.id))
            .where(col(Like.actor_id) == account.id, col(Post.deleted_at).is_(None))
            .order_by(col(Like.id))
        )
    )


def _bookmarked(session: Session, account: LocalActor) -> list[str]:
    return list(
        session.scalars(
            select(col(Post.ap_id))
            .join(Bookmark, col(Bookmark.post_id) == col(Post.id))
            .where(col(Bookmark.account_id) == account.account_id, col(Post.deleted_at).is_(None))
            .order_by(col(Bookmark.id))
        )
    )


async def _write_collection(services: Services, writer: _Writer, name: str, account: LocalActor, read: Any) -> None:
    ids: list[str] = await services.db.read(lambda session: read(session, account))
    document = with_context({"id": name, "type": "OrderedCollection", "totalItems": len(ids), "orderedItems": ids})
    await writer.data(name, _dumps(document).encode("utf-8"))


async def _write_actor(services: Services, writer: _Writer, account: LocalActor) -> None:
    images: ActorImages = await services.db.read(
        lambda session: actor_images(session, account.avatar_media_id, account.header_media_id)
    )
    document = actor_document(account, account, services.urls, images)
    document.update({"outbox": OUTBOX, "likes": LIKES, "bookmarks": BOOKMARKS})
    # ``bookmarks`` is Mastodon's archive's own term, declared here so JSON-LD readers keep it.
    document["@context"] = [*CONTEXT, {"bookmarks": {"@id": "toot:bookmarks", "@type": "@id"}}]
    for field, stem, media in (("icon", "avatar", images.icon), ("image", "header", images.header)):
        key = _file_key(media)
        if key is None or field not in document:
            continue
        name = f"{stem}.{key.rsplit('.', 1)[1]}"
        if await _copy_media(services, writer, name, key):
            document[field] = {**document[field], "url": name, "mediaType": mime_of_key(key)}
    await writer.data(ACTOR, _dumps(document).encode("utf-8"))


def _file_key(media: Media | None) -> str | None:
    return None if media is None else media.original_key or media.display_key
