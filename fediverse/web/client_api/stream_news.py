"""What the database gained since the last look: new posts, boosts and notifications, and post changes
(deletes, edits, undone boosts, from the ``post_changes`` triggers), read by one process's stream poller
(decision 0057).

Rows are found by id, but ids are not committed in order: a post's snowflake is taken before its
transaction waits for the writer, and an inbox batch commits its notifications together at its end. So
each table is read from a *floor* that trails the newest id by ``LOOKBACK`` seconds, and the rows already
handled above the floor are remembered: a row that commits late, but within ``LOOKBACK`` of taking its
id, is still found, and found once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from storage.columns import key_col
from storage.models import Announce, Notification, Post, PostChange, PostTag, Visibility

#: How long after taking its id a row may commit and still be streamed (seconds).
LOOKBACK = 30.0


@dataclass
class Cursor:
    """One table's floor and the rows above it already handled (by key: an id, or more where ids recur)."""

    floor: int
    seen: dict[Hashable, int] = field(default_factory=dict)  # key -> id
    marks: deque[tuple[float, int]] = field(default_factory=deque)  # (when, newest id seen by then)

    def fresh(self, rows: Iterable[tuple[Hashable, int]]) -> list[Hashable]:
        """The keys not handled yet among ``rows`` (key, id), now marked handled."""
        new = []
        for key, row_id in rows:
            if key not in self.seen:
                self.seen[key] = row_id
                new.append(key)
        return new

    def advance(self, now: float) -> None:
        """Remember the newest id seen now; raise the floor to what was newest ``LOOKBACK`` seconds ago."""
        newest = max(self.seen.values(), default=self.floor)
        if not self.marks or newest > self.marks[-1][1]:
            self.marks.append((now, max(newest, self.floor)))
        while self.marks and self.marks[0][0] <= now - LOOKBACK:
            self.floor = max(self.floor, self.marks.popleft()[1])
        if self.seen and min(self.seen.values()) <= self.floor:
            self.seen = {key: row_id for key, row_id in self.seen.items() if row_id > self.floor}


@dataclass(frozen=True)
class NewPost:
    id: int
    author_id: int
    is_local: bool
    visibility: str
    top_level: bool  # not a reply: what public timelines list
    tags: frozenset[str] = frozenset()

    @property
    def public(self) -> bool:
        return self.visibility == Visibility.PUBLIC


@dataclass(frozen=True)
class NewBoost:
    id: int
    actor_id: int


@dataclass(frozen=True)
class Unboost:
    announce_id: int
    actor_id: int


@dataclass
class News:
    """What one poll found that no earlier poll had."""

    posts: list[NewPost] = field(default_factory=list)
    boosts: list[NewBoost] = field(default_factory=list)
    notifications: dict[int, list[int]] = field(default_factory=dict)  # account id -> notification ids
    deleted: list[int] = field(default_factory=list)  # post ids
    edited: list[int] = field(default_factory=list)  # post ids
    unboosts: list[Unboost] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.posts, self.boosts, self.notifications, self.deleted, self.edited, self.unboosts))


@dataclass
class Cursors:
    posts: Cursor
    boosts: Cursor
    notifications: Cursor
    changes: Cursor

    def advance(self, now: float) -> None:
        for cursor in (self.posts, self.boosts, self.notifications, self.changes):
            cursor.advance(now)


def start_cursors(session: Session) -> Cursors:
    """Cursors at the newest rows now: what is already there is not news."""

    def newest(column: object) -> int:
        return int(session.scalar(select(func.max(column))) or 0)

    return Cursors(
        posts=Cursor(newest(Post.id)),
        boosts=Cursor(newest(Announce.id)),
        notifications=Cursor(newest(Notification.id)),
        changes=Cursor(newest(PostChange.id)),
    )


@dataclass(frozen=True)
class _Rows:
    posts: list[tuple[int, int, bool, str, bool]]
    tags: list[tuple[int, str]]
    boosts: list[tuple[int, int]]
    notifications: list[tuple[int, int, float]]
    changes: list[tuple[int, str, int, int | None, int | None]]


def _read_rows(session: Session, cursors: Cursors, with_tags: bool) -> _Rows:
    post_floor = cursors.posts.floor
    posts = session.execute(
        select(
            key_col(Post.id),
            col(Post.author_id),
            col(Post.is_local),
            col(Post.visibility),
            col(Post.in_reply_to_ap_id).is_(None),
        ).where(col(Post.id) > post_floor, col(Post.deleted_at).is_(None))
    ).all()
    tags: Sequence[Row[int, str]] = ()
    if with_tags and posts:
        tags = session.execute(
            select(col(PostTag.post_id), col(PostTag.tag)).where(col(PostTag.post_id) > post_floor)
        ).all()
    boosts = session.execute(
        select(key_col(Announce.id), col(Announce.actor_id)).where(col(Announce.id) > cursors.boosts.floor)
    ).all()
    notifications = session.execute(
        select(key_col(Notification.id), col(Notification.account_id), col(Notification.created_at)).where(
            col(Notification.id) > cursors.notifications.floor
        )
    ).all()
    changes = session.execute(
        select(
            key_col(PostChange.id),
            col(PostChange.kind),
            col(PostChange.post_id),
            col(PostChange.announce_id),
            col(PostChange.actor_id),
        ).where(col(PostChange.id) > cursors.changes.floor)
    ).all()
    return _Rows(
        posts=[(int(a), int(b), bool(c), str(d), bool(e)) for a, b, c, d, e in posts],
        tags=[(int(post_id), str(tag)) for post_id, tag in tags],
        boosts=[(int(a), int(b)) for a, b in boosts],
        notifications=[(int(a), int(b), created.timestamp()) for a, b, created in notifications],
        changes=[(int(a), str(b), int(c), d, e) for a, b, c, d, e in changes],
    )


def read_news(session: Session, cursors: Cursors, *, with_tags: bool) -> News:
    """The rows above the cursors' floors that they have not handled yet (``with_tags``: load new posts'
    hashtags, for hashtag streams). Call ``cursors.advance`` afterwards."""
    rows = _read_rows(session, cursors, with_tags)
    news = News()
    fresh_posts = set(cursors.posts.fresh((row[0], row[0]) for row in rows.posts))
    tags: dict[int, set[str]] = {}
    for post_id, tag in rows.tags:
        tags.setdefault(post_id, set()).add(tag)
    news.posts = [
        NewPost(post_id, author_id, is_local, visibility, top_level, frozenset(tags.get(post_id, ())))
        for post_id, author_id, is_local, visibility, top_level in rows.posts
        if post_id in fresh_posts
    ]
    fresh_boosts = set(cursors.boosts.fresh((row[0], row[0]) for row in rows.boosts))
    news.boosts = [NewBoost(boost_id, actor_id) for boost_id, actor_id in rows.boosts if boost_id in fresh_boosts]
    # SQLite may give a deleted notification's id to the next one: the time tells them apart.
    fresh_notes = set(cursors.notifications.fresh(((row[0], row[2]), row[0]) for row in rows.notifications))
    for note_id, account_id, created in rows.notifications:
        if (note_id, created) in fresh_notes:
            news.notifications.setdefault(account_id, []).append(note_id)
    fresh_changes = set(cursors.changes.fresh((row[0], row[0]) for row in rows.changes))
    for change_id, kind, post_id, announce_id, actor_id in rows.changes:
        if change_id not in fresh_changes:
            continue
        if kind == "delete":
            news.deleted.append(post_id)
        elif kind == "edit":
            news.edited.append(post_id)
        elif kind == "unboost" and announce_id is not None and actor_id is not None:
            news.unboosts.append(Unboost(int(announce_id), int(actor_id)))
    news.posts.sort(key=lambda post: post.id)
    news.boosts.sort(key=lambda boost: boost.id)
    return news
