"""One viewer's share of what a poll found: the streaming API's events, filtered by the same rules as the
REST timelines and notifications, and rendered as Mastodon sends them (decision 0057).

A new post or boost reaches a stream when that stream's timeline (``fediverse.reads.timelines``; for a
``list`` stream the list's own, ``list_page``) lists it for the viewer now: the timeline is read from the
newest candidate down to the oldest, and only entries that are news are sent. An edit reaches it when the
timeline lists the post at its place. Notifications are those ``shown_to`` the viewer. A delete names only
an id: it goes to whoever may see the post (``core.visibility``) on the user and list streams, and, for
public posts, on the public and hashtag streams (a deleted post's hashtags are gone with it, so every
hashtag stream hears of it; clients ignore ids they do not hold). An undone boost is a delete of the
boost's id for the booster's followers, on the user and list streams.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.visibility import visible_to
from fediverse.reads.timelines import (
    MAX_PAGE_SIZE,
    Entry,
    TimelinePage,
    Window,
    home_timeline,
    list_page,
    public_timeline,
    tag_timeline,
)
from fediverse.services import Services
from fediverse.social.notifications import shown_to
from fediverse.web.client_api.entities import Json, notification
from fediverse.web.client_api.status_views import render_statuses
from fediverse.web.client_api.stream_news import NewPost, News
from storage.columns import key_col
from storage.models import Account, AccountList, Actor, Follow, FollowState, Notification, Post, Visibility

USER = "user"
NOTIFICATIONS = "user:notification"
PUBLIC = "public"
PUBLIC_LOCAL = "public:local"
PUBLIC_REMOTE = "public:remote"
HASHTAG = "hashtag"
HASHTAG_LOCAL = "hashtag:local"
LIST = "list"
KINDS = (USER, NOTIFICATIONS, PUBLIC, PUBLIC_LOCAL, PUBLIC_REMOTE, HASHTAG, HASHTAG_LOCAL, LIST)
#: The streams that follow what the viewer follows (new posts and boosts of their circle), not public posts.
_FOLLOWED = (USER, LIST)

#: A burst bigger than this many timeline pages in one poll is sent in part.
_MAX_PAGES = 5


@dataclass(frozen=True)
class Stream:
    """A stream one can subscribe to: its kind and, for hashtag streams, the normalised tag; for a list
    stream, the list's id (the subscriber's own list, checked when subscribing)."""

    kind: str
    tag: str | None = None
    list_id: int | None = None

    @property
    def locality(self) -> bool | None:
        """Only local posts (True), only remote ones (False), or both (None)."""
        return {PUBLIC_LOCAL: True, HASHTAG_LOCAL: True, PUBLIC_REMOTE: False}.get(self.kind)

    @property
    def follows_circle(self) -> bool:
        """The user and list streams: new posts and boosts of the accounts the viewer follows."""
        return self.kind in _FOLLOWED

    @property
    def is_public(self) -> bool:
        return self.kind not in (USER, NOTIFICATIONS, LIST)

    def may_list(self, post: NewPost) -> bool:
        """Whether this public or hashtag stream could list a new post (the timeline then decides)."""
        if not post.public or (self.locality is not None and post.is_local != self.locality):
            return False
        if self.tag is not None:
            return self.tag in post.tags
        return post.top_level


@dataclass(frozen=True)
class Message:
    """One event as Mastodon sends it: its name and its payload (a JSON document, or an id), as text."""

    event: str
    payload: str


@dataclass
class ViewerMessages:
    by_stream: dict[Stream, list[Message]] = field(default_factory=dict)
    notifications: list[Message] = field(default_factory=list)


def _text(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


async def follows_among(services: Services, viewer_actor_ids: set[int], actor_ids: set[int]) -> set[tuple[int, int]]:
    """(follower, followee) pairs: which of the viewers follow which of the actors."""
    if not viewer_actor_ids or not actor_ids:
        return set()
    statement = select(col(Follow.follower_id), col(Follow.followee_id)).where(
        col(Follow.state) == FollowState.ACCEPTED,
        col(Follow.follower_id).in_(viewer_actor_ids),
        col(Follow.followee_id).in_(actor_ids),
    )
    rows = await services.db.read(lambda session: session.execute(statement).all())
    return {(int(follower), int(followee)) for follower, followee in rows}


async def _page(session: AsyncSession, viewer_actor_id: int, stream: Stream, max_id: int, limit: int) -> TimelinePage:
    """The page of ``stream``'s REST timeline below ``max_id``, as the viewer sees it."""
    if stream.kind == USER:
        return await home_timeline(session, viewer_actor_id, max_id=max_id, limit=limit)
    if stream.list_id is not None:
        owned = await session.get(AccountList, stream.list_id)
        if owned is None:  # deleted while streamed
            return TimelinePage([], None)
        return await session.run_sync(list_page, owned, viewer_actor_id, Window(max_id=max_id), limit)
    if stream.tag is not None:
        return await tag_timeline(session, stream.tag, viewer_actor_id=viewer_actor_id, max_id=max_id, limit=limit)
    local_only = stream.kind == PUBLIC_LOCAL
    return await public_timeline(
        session, local_only=local_only, viewer_actor_id=viewer_actor_id, max_id=max_id, limit=limit
    )


async def _listed(session: AsyncSession, viewer_actor_id: int, stream: Stream, candidates: set[int]) -> list[Entry]:
    """The candidates (entry ids) that ``stream``'s timeline lists for the viewer, oldest first."""
    found: list[Entry] = []
    bottom = min(candidates)
    max_id = max(candidates) + 1
    for _ in range(_MAX_PAGES):
        page = await _page(session, viewer_actor_id, stream, max_id, MAX_PAGE_SIZE)
        found.extend(entry for entry in page.entries if entry.entry_id in candidates)
        if page.next_max_id is None or page.next_max_id <= bottom:
            break
        max_id = page.next_max_id
    return sorted(found, key=lambda entry: entry.entry_id)


async def _lists_post(session: AsyncSession, viewer_actor_id: int, stream: Stream, post_id: int) -> bool:
    """Whether ``stream``'s timeline lists the post itself for the viewer (at its own place)."""
    page = await _page(session, viewer_actor_id, stream, post_id + 1, 1)
    return bool(page.entries) and page.entries[0].entry_id == post_id


def _candidates(stream: Stream, news: News, circle: set[int]) -> set[int]:
    """Entry ids that may be on ``stream``: new posts, and on the user and list streams new boosts, by the
    circle (a list's members are followed accounts, so the circle holds them)."""
    if stream.follows_circle:
        posts = {post.id for post in news.posts if post.author_id in circle}
        return posts | {boost.id for boost in news.boosts if boost.actor_id in circle}
    return {post.id for post in news.posts if stream.may_list(post)}


@dataclass
class _Changes:
    deleted: dict[Stream, list[int]] = field(default_factory=dict)
    edited: dict[Stream, list[int]] = field(default_factory=dict)


async def _changes(session: AsyncSession, viewer_actor_id: int, streams: list[Stream], news: News) -> _Changes:
    """Which streams hear of each deleted or edited post the viewer may see."""
    changes = _Changes()
    post_ids = list(dict.fromkeys([*news.deleted, *news.edited]))
    if not post_ids:
        return changes
    statement = select(key_col(Post.id), col(Post.is_local), col(Post.visibility)).where(
        col(Post.id).in_(post_ids), visible_to(viewer_actor_id)
    )
    visible = {
        int(post_id): (bool(is_local), str(visibility))
        for post_id, is_local, visibility in await session.execute(statement)
    }
    for stream in streams:
        changes.deleted[stream] = [
            post_id
            for post_id in news.deleted
            if post_id in visible and (not stream.is_public or _fits(stream, *visible[post_id]))
        ]
        changes.edited[stream] = [
            post_id
            for post_id in news.edited
            if post_id in visible
            and post_id not in news.deleted
            and (not stream.is_public or _fits(stream, *visible[post_id]))
            and await _lists_post(session, viewer_actor_id, stream, post_id)
        ]
    return changes


def _fits(stream: Stream, is_local: bool, visibility: str) -> bool:
    """A public post of the stream's locality."""
    return visibility == Visibility.PUBLIC and (stream.locality is None or stream.locality == is_local)


async def _notifications(
    session: AsyncSession, viewer: Account, note_ids: list[int]
) -> list[tuple[Notification, Actor]]:
    """The viewer's new notifications that it is shown (``shown_to``), with who caused them."""
    if not note_ids:
        return []
    rows = await session.execute(
        select(Notification, Actor)
        .join(Actor, col(Actor.id) == col(Notification.actor_id))
        .where(col(Notification.id).in_(note_ids), shown_to(viewer))
        .order_by(col(Notification.id))
    )
    return [(note, actor) for note, actor in rows.all()]


async def viewer_messages(
    services: Services,
    viewer: Account,
    streams: Iterable[Stream],
    news: News,
    *,
    circle: set[int],
    with_notifications: bool,
) -> ViewerMessages:
    """What ``viewer`` gets of ``news`` on each of ``streams`` (and, ``with_notifications``, its new
    notifications). ``circle`` is the viewer's actor id and those of the news' authors it follows."""
    me = viewer.actor_id
    wanted = [stream for stream in dict.fromkeys(streams) if stream.kind != NOTIFICATIONS]
    listed: dict[Stream, list[Entry]] = {}
    async with services.db.session() as session:
        for stream in wanted:
            candidates = _candidates(stream, news, circle)
            if candidates:
                listed[stream] = await _listed(session, me, stream, candidates)
        changes = await _changes(session, me, wanted, news)
        note_ids = news.notifications.get(viewer.id or 0, []) if with_notifications else []
        notes = await _notifications(session, viewer, note_ids)
    entries = [entry for found in listed.values() for entry in found]
    entries += [Entry(post_id, post_id) for found in changes.edited.values() for post_id in found]
    entries += [Entry(note.post_id, note.post_id) for note, _ in notes if note.post_id is not None]
    statuses = await _render(services, viewer, entries)
    texts = {entry_id: _text(document) for entry_id, document in statuses.items()}
    messages = ViewerMessages()
    for stream in wanted:
        out = [Message("update", texts[entry.entry_id]) for entry in listed.get(stream, ()) if entry.entry_id in texts]
        out += [
            Message("status.update", texts[post_id]) for post_id in changes.edited.get(stream, ()) if post_id in texts
        ]
        out += [Message("delete", str(post_id)) for post_id in changes.deleted.get(stream, ())]
        if stream.follows_circle:
            out += [Message("delete", str(gone.announce_id)) for gone in news.unboosts if gone.actor_id in circle]
        if out:
            messages.by_stream[stream] = out
    for note, actor in notes:
        status = statuses.get(note.post_id) if note.post_id is not None else None
        if note.post_id is None or status is not None:
            document = notification(note, actor, status, services.urls)
            messages.notifications.append(Message("notification", _text(document)))
    return messages


async def _render(services: Services, viewer: Account, entries: list[Entry]) -> dict[int, Json]:
    """Each entry's status, by entry id (one read for them all)."""
    unique = list({entry.entry_id: entry for entry in entries}.values())
    return {int(document["id"]): document for document in await render_statuses(services, viewer, unique)}
