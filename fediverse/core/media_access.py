"""Who may fetch one of our media files, decided by the rows that use it (decision 0047).

A file is **public** when a public or unlisted post, an avatar or a header uses it (a remote file too:
``remote_file_use`` judges a remote file by its row, for the URL that serves it before it is cached). Otherwise it is
**restricted** to the people who may see one of the posts using it (``fediverse.core.visibility`` for a
signed-in viewer, ``fediverse.core.audience`` for a signed fetch) and to the accounts whose drafts or posts
they are. A file no row uses (written just before its row, or left by a crash until the sweep) is
neither: there is nobody to ask about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.audience import may_read_post
from fediverse.core.visibility import OPEN, can_see
from storage.models import Account, Actor, CustomEmoji, Media, MediaState, Post, PostMedia

#: Enough posts to find one the reader may see; a file shared by more restricted posts is a curiosity.
MAX_POSTS_CHECKED = 50


class FileReach(StrEnum):
    PUBLIC = "public"
    RESTRICTED = "restricted"
    UNUSED = "unused"


@dataclass(frozen=True)
class FileUse:
    """What uses a restricted file: the (live) posts it is attached to and the accounts that own it."""

    reach: FileReach
    posts: tuple[Post, ...] = ()
    owner_account_ids: frozenset[int] = frozenset()


def _uses(key: str) -> ColumnElement[bool]:
    return or_(col(Media.original_key) == key, col(Media.display_key) == key, col(Media.thumbnail_key) == key)


async def file_use(session: AsyncSession, key: str) -> FileUse:
    """How far the file ``key`` may travel; one query when it is public (the common case)."""
    open_post = exists().where(
        col(PostMedia.media_id) == col(Media.id),
        col(PostMedia.post_id) == col(Post.id),
        col(Post.visibility).in_(OPEN),
    )
    in_a_post = exists().where(col(PostMedia.media_id) == col(Media.id))
    public_use = and_(_uses(key), or_(open_post, and_(col(Media.state) != MediaState.DRAFT, ~in_a_post)))
    if await session.scalar(select(exists().where(public_use))):
        return FileUse(FileReach.PUBLIC)
    rows = (
        await session.execute(
            select(col(Media.owner_account_id), Post)
            .outerjoin(PostMedia, col(PostMedia.media_id) == col(Media.id))
            .outerjoin(Post, and_(col(Post.id) == col(PostMedia.post_id), col(Post.deleted_at).is_(None)))
            .where(_uses(key))
            .limit(MAX_POSTS_CHECKED)
        )
    ).all()
    if not rows:
        return FileUse(FileReach.UNUSED)
    posts = tuple(post for _, post in rows if post is not None)
    owners = frozenset(owner for owner, _ in rows if owner is not None)
    return FileUse(FileReach.RESTRICTED, posts, owners)


async def remote_file_use(session: AsyncSession, media_id: int) -> FileUse:
    """How far a remote file (a ``REMOTE`` row, served at ``/media/remote/{id}/…``, decision 0059) may travel:
    public when a public or unlisted post, an actor's avatar or header, or a custom emoji uses it; restricted
    to those who may see one of its posts when only followers-only or direct posts do; unused when nothing
    does."""
    in_post = and_(col(PostMedia.media_id) == media_id, col(PostMedia.post_id) == col(Post.id))
    open_post = exists().where(in_post, col(Post.visibility).in_(OPEN), col(Post.deleted_at).is_(None))
    profile_image = exists().where(or_(col(Actor.avatar_media_id) == media_id, col(Actor.header_media_id) == media_id))
    emoji = exists().where(col(CustomEmoji.media_id) == media_id)
    if await session.scalar(select(or_(open_post, profile_image, emoji))):
        return FileUse(FileReach.PUBLIC)
    posts = tuple(
        await session.scalars(
            select(Post)
            .join(PostMedia, col(PostMedia.post_id) == col(Post.id))
            .where(col(PostMedia.media_id) == media_id, col(Post.deleted_at).is_(None))
            .limit(MAX_POSTS_CHECKED)
        )
    )
    return FileUse(FileReach.RESTRICTED, posts) if posts else FileUse(FileReach.UNUSED)


async def viewer_may_fetch(session: AsyncSession, use: FileUse, account: Account) -> bool:
    """A signed-in viewer: the file is theirs, or they may see a post it is in."""
    if account.id in use.owner_account_ids:
        return True
    for post in use.posts:
        if await can_see(session, post, account.actor_id):
            return True
    return False


async def signer_may_fetch(session: AsyncSession, use: FileUse, reader: Actor) -> bool:
    """A remote actor proven by a signed GET: they may read a post the file is in."""
    for post in use.posts:
        if await may_read_post(session, post, reader):
            return True
    return False
