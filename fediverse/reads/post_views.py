"""Reading posts together with their author, media, tags and mentions, in a few batched queries.

``post_views`` is plain synchronous code for a unit of work (``Database.read``, decision 0049);
``load_post_views`` runs the same on an ``AsyncSession``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import BindParameter, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, defer
from sqlmodel import col

from fediverse.federation.notes import PostView
from storage.models import Actor, Media, Mention, Post, PostMedia, PostTag

#: The raw AS2 document of an actor is kept for reference; no page or document reads it.
WITHOUT_RAW_ACTOR = defer(Actor.raw)  # type: ignore[arg-type]
#: Likewise for posts, but for a remote post's replies collection (``federation.threads``).
WITHOUT_RAW_POST = defer(Post.raw)  # type: ignore[arg-type]


def _ids() -> BindParameter[list[int]]:
    return bindparam("ids", expanding=True)


# Statements built once, executed with ``{"ids": [...]}``: building a statement and its cache key costs more
# than running it (decision 0049).
_AUTHORS = select(Actor).where(col(Actor.id).in_(_ids())).options(WITHOUT_RAW_ACTOR)
_MEDIA = (
    select(col(PostMedia.post_id), Media)
    .join(Media, col(Media.id) == col(PostMedia.media_id))
    .where(col(PostMedia.post_id).in_(_ids()))
    .order_by(col(PostMedia.post_id), col(PostMedia.position))
)
_TAGS = (
    select(col(PostTag.post_id), col(PostTag.tag)).where(col(PostTag.post_id).in_(_ids())).order_by(col(PostTag.tag))
)
_MENTIONS = (
    select(col(Mention.post_id), Actor)
    .join(Actor, col(Actor.id) == col(Mention.actor_id))
    .where(col(Mention.post_id).in_(_ids()))
    .options(WITHOUT_RAW_ACTOR)
)


def post_views(session: Session, posts: Sequence[Post]) -> list[PostView]:
    """``PostView``s for ``posts``, in the same order; four queries whatever the number of posts."""
    if not posts:
        return []
    post_ids = [post.id for post in posts]
    author_ids = list({post.author_id for post in posts})
    authors = {actor.id: actor for actor in session.scalars(_AUTHORS, {"ids": author_ids})}
    media_by_post: dict[int, list[Media]] = defaultdict(list)
    for post_id, media in session.execute(_MEDIA, {"ids": post_ids}):
        media_by_post[post_id].append(media)
    tags_by_post: dict[int, list[str]] = defaultdict(list)
    for post_id, tag in session.connection().execute(_TAGS, {"ids": post_ids}):
        tags_by_post[post_id].append(tag)
    mentions_by_post: dict[int, list[Actor]] = defaultdict(list)
    for post_id, actor in session.execute(_MENTIONS, {"ids": post_ids}):
        mentions_by_post[post_id].append(actor)
    return [
        PostView(
            post=post,
            author=authors[post.author_id],
            media=media_by_post[post.id],
            tags=tags_by_post[post.id],
            mentions=mentions_by_post[post.id],
        )
        for post in posts
    ]


async def load_post_views(session: AsyncSession, posts: Sequence[Post]) -> list[PostView]:
    """``post_views`` on an async session."""
    return await session.run_sync(post_views, posts)
