"""What a page needs to draw posts: ``PostCard``s with images, counts and the viewer's own likes and
boosts, loaded for a whole page in a fixed number of queries.

``cards`` is plain synchronous code for a unit of work (``Database.read``, decision 0049); ``load_cards``
and ``load_card`` run the same on an ``AsyncSession``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BindParameter, bindparam, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from fediverse.core import interaction_policy as rule
from fediverse.core.urls import Urls
from fediverse.core.visibility import visible_to
from fediverse.federation.notes import PostView
from fediverse.federation.quotes import without_fallback
from fediverse.federation.sanitize import html_to_text
from fediverse.generation.provenance import shared_generation
from fediverse.reads.interaction_permissions import Permissions, permissions
from fediverse.reads.post_views import WITHOUT_RAW_ACTOR, WITHOUT_RAW_POST, post_views
from fediverse.reads.timelines import Entry
from storage.models import Actor, Announce, Like, Media, MediaState, Post, QuoteState, Visibility


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


#: Characters of a quoted post's text a quote card shows.
EXCERPT_LENGTH = 280


@dataclass(frozen=True)
class QuoteCard:
    """What a quoting post shows of the post it quotes (decision 0064): the quoted post's card when the
    reader may see it (the one read rule) and its author approved, else only ``state``. ``state`` is
    Mastodon 4.5's: ``accepted``, ``pending``, ``rejected``, ``revoked``, ``deleted`` (gone), or
    ``unauthorized`` (the reader may not see it, or we do not have it)."""

    state: str
    quoted: PostCard | None = None


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
    #: Approved, public or unlisted quotes of the post that are still there (``quote_counts``).
    quotes: int = 0
    liked: bool = False
    boosted: bool = False
    quote: QuoteCard | None = None

    @property
    def content_html(self) -> str:
        """The post's HTML as pages show it: a quote's inline fallback (the ``RE:`` line) is left out, since
        the quote card stands in its place."""
        return without_fallback(self.post.content_html) if self.post.quote_ap_id else self.post.content_html

    @property
    def excerpt(self) -> str:
        """The start of the post's text, for a quote card."""
        text = html_to_text(self.content_html)
        return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1].rstrip() + "…"

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


_QUOTED = select(Post).where(col(Post.ap_id).in_(bindparam("ap_ids", expanding=True))).options(WITHOUT_RAW_POST)
#: How many quotes each post has: approved (a legacy quote has no state to approve), public or unlisted, not
#: deleted — the same number for every reader, Mastodon's ``quotes_count``. Counted over the indexed
#: ``quote_ap_id`` for a page at once rather than kept as a column: a quote may arrive before the post it
#: quotes is stored, and the two are linked by id, not by key.
_QUOTE_COUNTS = (
    select(col(Post.quote_ap_id), func.count())
    .where(
        col(Post.quote_ap_id).in_(bindparam("ap_ids", expanding=True)),
        col(Post.deleted_at).is_(None),
        col(Post.visibility).in_([Visibility.PUBLIC, Visibility.UNLISTED]),
        or_(col(Post.quote_state).is_(None), col(Post.quote_state) == QuoteState.ACCEPTED),
    )
    .group_by(col(Post.quote_ap_id))
)


def quote_counts(session: Session, posts: Sequence[Post]) -> dict[str, int]:
    """``quotes`` for each of ``posts`` that has any, by the post's ActivityPub id: one query for a page."""
    if not posts:
        return {}
    return {
        str(ap_id): int(count) for ap_id, count in session.execute(_QUOTE_COUNTS, {"ap_ids": [p.ap_id for p in posts]})
    }


def quote_cards(
    session: Session, urls: Urls, posts: Sequence[Post], viewer_actor_id: int | None
) -> dict[int, QuoteCard]:
    """The quote card of each quoting post in ``posts``, by post id: two queries for a page. A quoted post
    is drawn only for a reader the one read rule lets see it (``core.visibility``), and only once its
    author approved; its own quote is not followed."""
    quoting = [post for post in posts if post.quote_ap_id]
    if not quoting:
        return {}
    quoted = {post.ap_id: post for post in session.scalars(_QUOTED, {"ap_ids": [p.quote_ap_id for p in quoting]})}
    live = [post.id for post in quoted.values() if post.deleted_at is None]
    seen: set[int] = set()
    if live and viewer_actor_id is None:
        seen = {
            post.id
            for post in quoted.values()
            if post.id in live and post.visibility in (Visibility.PUBLIC, Visibility.UNLISTED)
        }
    elif live:
        seen = set(session.scalars(select(col(Post.id)).where(col(Post.id).in_(live), visible_to(viewer_actor_id))))
        seen |= {post.id for post in quoted.values() if post.author_id == viewer_actor_id and post.deleted_at is None}
    shown = [post for post in quoted.values() if post.id in seen]
    views = {view.post.id: view for view in post_views(session, shown)}
    found: dict[int, QuoteCard] = {}
    for post in quoting:
        target = quoted.get(post.quote_ap_id or "")
        state = post.quote_state or QuoteState.ACCEPTED
        if state != QuoteState.ACCEPTED:
            found[post.id] = QuoteCard(state)
        elif target is None or target.id not in seen:
            gone = target is not None and target.deleted_at is not None
            found[post.id] = QuoteCard("deleted" if gone else "unauthorized")
        else:
            view = views[target.id]
            images = [image for media in view.media if (image := image_view(media, urls))]
            quoted_card = PostCard(view, images, post_path(target, view.author, urls.host), target.id)
            found[post.id] = QuoteCard(state, quoted_card)
    return found


def cards(session: Session, urls: Urls, entries: Sequence[Entry], viewer_actor_id: int | None) -> list[PostCard]:
    """Cards for ``entries`` in order, with their quote cards; entries whose post is gone are left out."""
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
    quotes = quote_cards(session, urls, list(posts.values()), viewer_actor_id)
    quoted_by = quote_counts(session, list(posts.values()))
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
                quotes=quoted_by.get(view.post.ap_id, 0),
                liked=entry.post_id in liked,
                boosted=entry.post_id in boosted,
                quote=quotes.get(entry.post_id),
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
