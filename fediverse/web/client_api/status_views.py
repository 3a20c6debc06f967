"""Statuses as the client API returns them: a page of feed entries loaded in one read unit (decision
0049), with what only the viewer's own rows say (favourited, reblogged, bookmarked, pinned, the custom
filters a status matches), then shaped by ``entities.status``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BindParameter, bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import col

from fediverse.reads.cards import PostCard, cards
from fediverse.reads.filters import ActiveFilter, active_filters, matches
from fediverse.reads.timelines import Entry
from fediverse.services import Services
from fediverse.web.client_api.entities import Json, filter_result, status
from storage.models import Account, Bookmark, Post


def _ids() -> BindParameter[list[int]]:
    return bindparam("ids", expanding=True)


_PARENT_AUTHORS = select(col(Post.id), col(Post.author_id)).where(col(Post.id).in_(_ids()))
_BOOKMARKED = select(col(Bookmark.post_id)).where(
    col(Bookmark.account_id) == bindparam("account_id"), col(Bookmark.post_id).in_(_ids())
)


@dataclass(frozen=True)
class _Loaded:
    cards: list[PostCard]
    parents: dict[int, int]
    bookmarked: set[int]
    filters: list[ActiveFilter]


def _load(session: Session, services: Services, viewer: Account | None, entries: Sequence[Entry]) -> _Loaded:
    found = cards(session, services.urls, entries, viewer.actor_id if viewer else None)
    post_ids = [card.post.id for card in found]
    parent_ids = list({card.post.in_reply_to_id for card in found if card.post.in_reply_to_id})
    parents: dict[int, int] = {}
    if parent_ids:
        parents = {
            int(post_id): int(author_id) for post_id, author_id in session.execute(_PARENT_AUTHORS, {"ids": parent_ids})
        }
    bookmarked: set[int] = set()
    filters: list[ActiveFilter] = []
    if viewer is not None and post_ids:
        bookmarked = set(session.scalars(_BOOKMARKED, {"ids": post_ids, "account_id": viewer.id}))
        filters = active_filters(session, viewer.id or 0)
    return _Loaded(found, parents, bookmarked, filters)


async def render_statuses(services: Services, viewer: Account | None, entries: Sequence[Entry]) -> list[Json]:
    """Statuses for ``entries`` in order (entries whose post is gone are left out). The caller has
    already decided that ``viewer`` may see them (the timelines' and ``core.visibility``'s rules).

    Each carries in ``filtered`` every one of the viewer's filters it matches, whatever their contexts,
    and nothing is left out for a ``hide`` filter: as Mastodon 4 does, the client applies them where it
    shows the status (decision 0066). The viewer's own posts are never filtered."""
    if not entries:
        return []
    loaded = await services.db.read(lambda session: _load(session, services, viewer, entries))
    pinned = _pinned_by(viewer, loaded.cards)
    rendered = []
    for card in loaded.cards:
        own = viewer is not None and card.post.author_id == viewer.actor_id
        found = (
            []
            if own or not loaded.filters
            else matches(loaded.filters, card.view, list(dict.fromkeys((card.entry_id, card.post.id))))
        )
        rendered.append(
            status(
                card,
                services.urls,
                parent_account_ids=loaded.parents,
                bookmarked=loaded.bookmarked,
                pinned=pinned,
                filtered=[filter_result(match) for match in found],
            )
        )
    return rendered


def _pinned_by(viewer: Account | None, found: Sequence[PostCard]) -> set[int]:
    """The viewer's own pinned posts among the cards (``pinned`` is the author's to know, as in Mastodon)."""
    if viewer is None:
        return set()
    return {card.post.id for card in found if card.post.author_id == viewer.actor_id and card.post.pinned_at}


async def render_status(services: Services, viewer: Account | None, post: Post) -> Json:
    """One post as a status (not as someone's boost of it)."""
    (found,) = await render_statuses(services, viewer, [Entry(post.id, post.id)])
    return found
