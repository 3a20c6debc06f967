"""Reading posts together with their author, media, tags and mentions, in a few batched queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.federation.notes import PostView
from storage.models import Actor, Media, Mention, Post, PostMedia, PostTag


async def load_post_views(session: AsyncSession, posts: Sequence[Post]) -> list[PostView]:
    """``PostView``s for ``posts``, in the same order; four queries whatever the number of posts."""
    if not posts:
        return []
    post_ids = [post.id for post in posts]
    author_ids = {post.author_id for post in posts}
    authors = {actor.id: actor for actor in (await session.scalars(select(Actor).where(col(Actor.id).in_(author_ids))))}
    media_by_post: dict[int, list[Media]] = defaultdict(list)
    media_rows = await session.execute(
        select(col(PostMedia.post_id), Media)
        .join(Media, col(Media.id) == col(PostMedia.media_id))
        .where(col(PostMedia.post_id).in_(post_ids))
        .order_by(col(PostMedia.post_id), col(PostMedia.position))
    )
    for post_id, media in media_rows:
        media_by_post[post_id].append(media)
    tags_by_post: dict[int, list[str]] = defaultdict(list)
    for post_id, tag in await session.execute(
        select(col(PostTag.post_id), col(PostTag.tag))
        .where(col(PostTag.post_id).in_(post_ids))
        .order_by(col(PostTag.tag))
    ):
        tags_by_post[post_id].append(tag)
    mentions_by_post: dict[int, list[Actor]] = defaultdict(list)
    for post_id, actor in await session.execute(
        select(col(Mention.post_id), Actor)
        .join(Actor, col(Actor.id) == col(Mention.actor_id))
        .where(col(Mention.post_id).in_(post_ids))
    ):
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
