"""Which of an account's custom filters a post matches (Mastodon's ``CustomFilter``; docs/client-api.md).

A filter matches a post through its keywords or the posts chosen for it. Keywords are matched as Mastodon
matches them: case-insensitively, against the content warning, the text of the post and its images'
descriptions; a ``whole_word`` keyword needs a word boundary at each end that is a word character (so
``#tag`` or ``c++`` still match on their word side). Expired filters match nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from fediverse.federation.notes import PostView
from fediverse.federation.sanitize import html_to_text
from fediverse.reads.cards import PostCard
from storage.models import CustomFilter, FilterKeyword, FilterStatus
from storage.types import utcnow

CONTEXTS = ("home", "notifications", "public", "thread", "account")
ACTIONS = ("warn", "hide", "blur")


def keyword_pattern(keyword: str, whole_word: bool) -> str:
    """The regular expression of one keyword (case is ignored by the caller's flags)."""
    escaped = re.escape(keyword)
    if not whole_word:
        return escaped
    start = r"\b" if re.match(r"\w", keyword) else ""
    end = r"\b" if re.search(r"\w\Z", keyword) else ""
    return f"{start}{escaped}{end}"


@dataclass(frozen=True)
class ActiveFilter:
    """A filter in force, with its keywords' union compiled once and the posts chosen for it."""

    row: CustomFilter
    keywords: Sequence[FilterKeyword]
    statuses: Sequence[FilterStatus]
    pattern: re.Pattern[str] | None

    def applies_in(self, context: str | None) -> bool:
        return context is None or context in self.row.context


@dataclass(frozen=True)
class FilterMatch:
    """What ``FilterResult`` says: the filter, the text its keywords found, the chosen posts it names."""

    active: ActiveFilter
    keyword_matches: list[str] | None
    status_matches: list[int] | None

    @property
    def hides(self) -> bool:
        return self.active.row.action == "hide"


def active_filters(session: Session, account_id: int, now: datetime | None = None) -> list[ActiveFilter]:
    """The account's filters that have not expired, oldest first."""
    moment = now or utcnow()
    rows = list(
        session.scalars(
            select(CustomFilter)
            .where(
                col(CustomFilter.account_id) == account_id,
                or_(col(CustomFilter.expires_at).is_(None), col(CustomFilter.expires_at) > moment),
            )
            .order_by(col(CustomFilter.id))
        )
    )
    if not rows:
        return []
    ids = [row.id for row in rows]
    keywords: dict[int, list[FilterKeyword]] = {filter_id: [] for filter_id in ids}
    for keyword in session.scalars(
        select(FilterKeyword).where(col(FilterKeyword.filter_id).in_(ids)).order_by(col(FilterKeyword.id))
    ):
        keywords[keyword.filter_id].append(keyword)
    statuses: dict[int, list[FilterStatus]] = {filter_id: [] for filter_id in ids}
    for chosen in session.scalars(
        select(FilterStatus).where(col(FilterStatus.filter_id).in_(ids)).order_by(col(FilterStatus.id))
    ):
        statuses[chosen.filter_id].append(chosen)
    return [
        ActiveFilter(row, keywords[row.id], statuses[row.id], _union(keywords[row.id]))
        for row in rows
        if keywords[row.id] or statuses[row.id]
    ]


def _union(keywords: Sequence[FilterKeyword]) -> re.Pattern[str] | None:
    if not keywords:
        return None
    return re.compile("|".join(keyword_pattern(item.keyword, item.whole_word) for item in keywords), re.IGNORECASE)


def searchable_text(view: PostView) -> str:
    """What keywords are looked for in: the content warning, the post's text, its images' descriptions."""
    parts = [view.post.summary or "", html_to_text(view.post.content_html or "")]
    parts.extend(media.alt_text for media in view.media if media.alt_text)
    return "\n\n".join(part for part in parts if part)


def matches(
    filters: Sequence[ActiveFilter], view: PostView, status_ids: Sequence[int], context: str | None = None
) -> list[FilterMatch]:
    """The filters (those applying in ``context``; all when None) that ``view`` matches. ``status_ids`` are
    the ids the post is shown under (the post, and a boost of it)."""
    found: list[FilterMatch] = []
    text: str | None = None
    for active in filters:
        if not active.applies_in(context):
            continue
        keyword_matches = None
        if active.pattern is not None:
            text = searchable_text(view) if text is None else text
            hit = active.pattern.search(text)
            keyword_matches = [hit.group(0)] if hit else None
        chosen = {item.post_id for item in active.statuses}
        status_matches = [status_id for status_id in status_ids if status_id in chosen] or None
        if keyword_matches or status_matches:
            found.append(FilterMatch(active, keyword_matches, status_matches))
    return found


@dataclass(frozen=True)
class Screened:
    """A page of cards after the viewer's filters: ``cards`` to show, and the titles of the ``warn`` (or
    ``blur``) filters each shown card matched, by entry id (drawn behind a warning)."""

    cards: list[PostCard]
    warnings: dict[int, list[str]]


def screen(
    session: Session, account_id: int, viewer_actor_id: int, cards: Sequence[PostCard], context: str
) -> Screened:
    """Apply the account's filters of ``context`` to a page of our pages' cards: what a ``hide`` filter
    matches is left out, what another matches is shown behind a warning naming the filters. The viewer's
    own posts are never filtered."""
    filters = active_filters(session, account_id)
    if not filters:
        return Screened(list(cards), {})
    shown: list[PostCard] = []
    warnings: dict[int, list[str]] = {}
    for card in cards:
        found = (
            []
            if card.post.author_id == viewer_actor_id
            else matches(filters, card.view, list(dict.fromkeys((card.entry_id, card.post.id))), context)
        )
        if any(match.hides for match in found):
            continue
        shown.append(card)
        if found:
            warnings[card.entry_id] = [match.active.row.title for match in found]
    return Screened(shown, warnings)
