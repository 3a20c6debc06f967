"""Statuses as the client API returns them: a page of feed entries loaded in one read unit (decision
0049), with what only the viewer's own rows say (favourited, reblogged, bookmarked, pinned), then shaped by
``entities.status``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BindParameter, bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import col

from fediverse.reads.cards import PostCard, cards
from fediverse.reads.timelines import Entry
from fediverse.services import Services
from fediverse.web.client_api.entities import Json, status
from storage.models import Account, Bookmark, Post


def _ids() -> BindParameter[list[int]]:
    return bindparam("ids", expanding=True)


_PARENT_AUTHORS = select(col(Post.id), col(Post.author_id)).where(col(Post.id).in_(_ids()))
_BOOKMARKED = select(col(Bookmark.post_id)).where(
    col(Bookmark.account_id) == bindparam("account_id"), col(Bookmark.post_id).in_(_ids())
)


def _load(
    session: Session, services: Services, viewer: Account | None, entries: Sequence[Entry]
) -> tuple[list[PostCard], dict[int, int], set[int]]:
    found = cards(session, services.urls, entries, viewer.actor_id if viewer else None)
    post_ids = [card.post.id for card in found]
    parent_ids = list({card.post.in_reply_to_id for card in found if card.post.in_reply_to_id})
    parents: dict[int, int] = {}
    if parent_ids:
        parents = {
            int(post_id): int(author_id) for post_id, author_id in session.execute(_PARENT_AUTHORS, {"ids": parent_ids})
        }
    bookmarked: set[int] = set()
    if viewer is not None and post_ids:
        bookmarked = set(session.scalars(_BOOKMARKED, {"ids": post_ids, "account_id": viewer.id}))
    return found, parents, bookmarked


async def render_statuses(services: Services, viewer: Account | None, entries: Sequence[Entry]) -> list[Json]:
    """Statuses for ``entries`` in order (entries whose post is gone are left out). The caller has
    already decided that ``viewer`` may see them (the timelines' and ``core.visibility``'s rules)."""
    if not entries:
        return []
    found, parents, bookmarked = await services.db.read(lambda session: _load(session, services, viewer, entries))
    pinned = _pinned_by(viewer, found)
    return [
        status(card, services.urls, parent_account_ids=parents, bookmarked=bookmarked, pinned=pinned) for card in found
    ]


def _pinned_by(viewer: Account | None, found: Sequence[PostCard]) -> set[int]:
    """The viewer's own pinned posts among the cards (``pinned`` is the author's to know, as in Mastodon)."""
    if viewer is None:
        return set()
    return {card.post.id for card in found if card.post.author_id == viewer.actor_id and card.post.pinned_at}


async def render_status(services: Services, viewer: Account | None, post: Post) -> Json:
    """One post as a status (not as someone's boost of it)."""
    (found,) = await render_statuses(services, viewer, [Entry(post.id, post.id)])
    return found
