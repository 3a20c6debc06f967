"""What a page needs to draw posts: ``PostCard``s with images, counts and the viewer's own likes and
boosts, loaded for a whole page in a fixed number of queries.

``cards`` is plain synchronous code for a unit of work (``Database.read``, decision 0049); ``load_cards``
and ``load_card`` run the same on an ``AsyncSession``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BindParameter, bindparam, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from fediverse.core import interaction_policy as rule
from fediverse.core.urls import Urls
from fediverse.federation.notes import PostView
from fediverse.generation.provenance import shared_generation
from fediverse.reads.interaction_permissions import Permissions, permissions
from fediverse.reads.post_views import WITHOUT_RAW_ACTOR, WITHOUT_RAW_POST, post_views
from fediverse.reads.timelines import Entry
from storage.models import Actor, Announce, Like, Media, MediaState, Post


@dataclass(frozen=True)
class ImageView:
    url: str
    thumbnail_url: str
    width: int | None
    height: int | None
    blurhash: str | None
    alt_text: str
    #: A remote file that was refused or is gone (``Media.fetch_error``): draw its placeholder, no ``<img>``.
    unavailable: bool = False

    @property
    def is_portrait(self) -> bool:
        return bool(self.width and self.height and self.height > self.width)


@dataclass(frozen=True)
class PostCard:
    view: PostView
    images: list[ImageView]
    page_url: str
    entry_id: int
    booster: Actor | None = None
    likes: int = 0
    boosts: int = 0
    replies: int = 0
    liked: bool = False
    boosted: bool = False
    #: What the viewer may do with the post under its interaction policy (decision 0063).
    permissions: Permissions = field(default_factory=Permissions)

    @property
    def post(self) -> Post:
        return self.view.post

    @property
    def author(self) -> Actor:
        return self.view.author

    @property
    def can_boost(self) -> bool:
        return self.permissions.boost.allowed

    def refusal(self, kind: str) -> str | None:
        """Why the viewer may not reply (``reply``), like (``like``) or boost (``announce``); ``None`` if they may."""
        if self.permissions.of(kind).allowed:
            return None
        if kind == rule.ANNOUNCE and self.post.visibility not in rule.BOOSTABLE:
            return "Only public posts can be boosted"
        return rule.REFUSALS[kind]

    def approval_note(self, kind: str) -> str | None:
        """``Replies need the author's approval.`` and the like, when the policy asks for it."""
        verdict = self.permissions.of(kind)
        return rule.PENDING_NOTES[kind] if verdict.permission is rule.Permission.MANUAL else None

    @property
    def generation(self) -> dict[str, Any]:
        """How the image was made, as others may see it: without the prompt, seed and settings when hidden."""
        return shared_generation(self.post.generation or {}, hide_prompt=self.post.hide_prompt)

    @property
    def prompt(self) -> str | None:
        prompt = self.generation.get("prompt")
        return prompt if isinstance(prompt, str) and prompt else None


def image_view(media: Media, urls: Urls) -> ImageView | None:
    """Where pages and clients load a picture from: always our own origin (decision 0059), never a URL a
    remote document names. The one function that decides an image's URL: pages, the JSON API and the
    Mastodon client API all ask it.

    A stored file (ours, or a remote one in the cache) is ``/media/{key}``; a remote file not cached (not
    fetched yet, or pruned after ``REVERIE_REMOTE_MEDIA_DAYS``) is ``/media/remote/{id}/{variant}``, which
    fetches it on demand; one given up for good is marked ``unavailable``."""
    if media.display_key or media.original_key:
        url = urls.media_url(media.display_key or media.original_key or "")
        thumbnail = urls.media_url(media.thumbnail_key) if media.thumbnail_key else url
    elif media.state == MediaState.REMOTE and media.remote_url and media.id is not None:
        url = urls.remote_media_url(media.id, "display")
        thumbnail = urls.remote_media_url(media.id, "thumbnail")
    else:
        return None
    unavailable = media.fetch_error is not None and not media.original_key
    return ImageView(url, thumbnail, media.width, media.height, media.blurhash, media.alt_text, unavailable)


def avatar_url(actor: Actor, urls: Urls) -> str | None:
    """An actor's avatar on our origin: a local account's stored file, a remote actor's through the cache
    (``/media/remote/{id}/thumbnail``, fetched on demand); ``None`` when it has none (pages draw its
    initial). Never the URL its document names."""
    if actor.is_local:
        return actor.icon_url
    return urls.remote_media_url(actor.avatar_media_id, "thumbnail") if actor.avatar_media_id else None


def header_url(actor: Actor, urls: Urls) -> str | None:
    """An actor's header image on our origin, as ``avatar_url``."""
    if actor.is_local:
        return actor.header_url
    return urls.remote_media_url(actor.header_media_id, "display") if actor.header_media_id else None


def handle_path(actor: Actor, local_host: str) -> str:
    """Our page for an actor: ``/@name`` for local accounts, ``/@name@host`` for remote ones."""
    return (
        f"/@{actor.username}" if actor.is_local or actor.domain == local_host else f"/@{actor.username}@{actor.domain}"
    )


def post_path(post: Post, author: Actor, local_host: str) -> str:
    return f"{handle_path(author, local_host)}/{post.id}"


def _ids() -> BindParameter[list[int]]:
    return bindparam("ids", expanding=True)


_POSTS = select(Post).where(col(Post.id).in_(_ids())).options(WITHOUT_RAW_POST)
_BOOSTERS = select(Actor).where(col(Actor.id).in_(_ids())).options(WITHOUT_RAW_ACTOR)
#: Which of a page's posts the viewer liked or boosted: (kind, post id). Likes, boosts and replies
#: themselves are counters in the post's row (decision 0052).
_MINE = union_all(
    select(literal("liked"), col(Like.post_id)).where(
        col(Like.actor_id) == bindparam("viewer"), col(Like.post_id).in_(_ids())
    ),
    select(literal("boosted"), col(Announce.post_id)).where(
        col(Announce.actor_id) == bindparam("viewer"), col(Announce.post_id).in_(_ids())
    ),
)


def cards(session: Session, urls: Urls, entries: Sequence[Entry], viewer_actor_id: int | None) -> list[PostCard]:
    """Cards for ``entries`` in order; entries whose post is gone are left out."""
    post_ids = list(dict.fromkeys(entry.post_id for entry in entries))
    if not post_ids:
        return []
    posts = {post.id: post for post in session.scalars(_POSTS, {"ids": post_ids})}
    views = {view.post.id: view for view in post_views(session, list(posts.values()))}
    booster_ids = list({entry.booster_id for entry in entries if entry.booster_id is not None})
    boosters = {actor.id: actor for actor in session.scalars(_BOOSTERS, {"ids": booster_ids})} if booster_ids else {}
    liked: set[int] = set()
    boosted: set[int] = set()
    if viewer_actor_id is not None:
        for kind, post_id in session.connection().execute(_MINE, {"ids": post_ids, "viewer": viewer_actor_id}):
            (liked if kind == "liked" else boosted).add(int(post_id))
    allowed = permissions(session, list(views.values()), viewer_actor_id)
    found = []
    for entry in entries:
        view = views.get(entry.post_id)
        if view is None or view.post.deleted_at is not None:
            continue
        found.append(
            PostCard(
                view=view,
                images=[image for media in view.media if (image := image_view(media, urls))],
                page_url=post_path(view.post, view.author, urls.host),
                entry_id=entry.entry_id,
                booster=boosters.get(entry.booster_id) if entry.booster_id else None,
                likes=view.post.likes_count,  # counters kept in the post's row (decision 0052)
                boosts=view.post.boosts_count,
                replies=view.post.replies_count,
                liked=entry.post_id in liked,
                boosted=entry.post_id in boosted,
                permissions=allowed[entry.post_id],
            )
        )
    return found


async def load_cards(
    session: AsyncSession, urls: Urls, entries: Sequence[Entry], viewer_actor_id: int | None
) -> list[PostCard]:
    """``cards`` on an async session."""
    return await session.run_sync(cards, urls, entries, viewer_actor_id)


def card(session: Session, urls: Urls, post: Post, viewer_actor_id: int | None) -> PostCard:
    (found,) = cards(session, urls, [Entry(post.id, post.id)], viewer_actor_id)
    return found


async def load_card(session: AsyncSession, urls: Urls, post: Post, viewer_actor_id: int | None) -> PostCard:
    return await session.run_sync(card, urls, post, viewer_actor_id)
