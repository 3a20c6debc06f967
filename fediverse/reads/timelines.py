"""Timelines: which posts (and boosts) a page shows, newest first, paged by id.

Post and boost ids are both time-ordered snowflakes, so a feed is one keyset query over a
``UNION ALL`` of posts and boosts, ordered by that shared id: ``?max_id=`` continues below the last
entry shown, and new posts never shift a page that is already open. Each branch of the union is
limited on its own index (``posts(author_id, id)``, ``announces.actor_id``) before the merge.

A ``Window`` also reads newer entries, as Mastodon's clients ask: ``since_id`` the newest ones above an
id, ``min_id`` those just above it (read oldest first, returned newest first like every page). A person's
favourites and bookmarks are feeds of their own rows (``Like``, ``Bookmark``), paged by those rows' ids.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVarTuple

from sqlalchemy import BigInteger, ColumnElement, Select, and_, bindparam, cast, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, aliased
from sqlmodel import col

from fediverse.core.blocking import not_blocked_between, not_hidden_from
from fediverse.core.visibility import OPEN, followed_ids, visible_to
from storage.columns import key_col
from storage.models import Account, AccountList, Actor, Announce, Bookmark, Like, ListMember, Post, PostMedia, PostTag

PAGE_SIZE = 20
MAX_PAGE_SIZE = 60


@dataclass(frozen=True)
class Entry:
    """One line of a feed: a post, or a boost of it by ``booster_id``. ``entry_id`` orders the feed."""

    entry_id: int
    post_id: int
    booster_id: int | None = None


@dataclass(frozen=True)
class Window:
    """Which slice of a feed: entries below ``max_id``, and above ``since_id`` (the newest of them) or above
    ``min_id`` (the ones just after it)."""

    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None

    @property
    def newer_than(self) -> int | None:
        return self.min_id if self.min_id is not None else self.since_id

    @property
    def oldest_first(self) -> bool:
        """Whether the rows are read upwards from ``min_id`` (then turned round)."""
        return self.min_id is not None


OLDER = Window()


@dataclass(frozen=True)
class TimelinePage:
    entries: list[Entry]
    next_max_id: int | None  # pass as ``max_id`` for the next (older) page; None at the end


Columns = TypeVarTuple("Columns")


def in_window(query: Select[*Columns], key: Mapped[int], window: Window, limit: int) -> Select[*Columns]:
    """``query`` limited to ``window`` of its ``key`` column, in the window's reading order."""
    if window.max_id is not None:
        query = query.where(key < window.max_id)
    if window.newer_than is not None:
        query = query.where(key > window.newer_than)
    return query.order_by(key.asc() if window.oldest_first else key.desc()).limit(limit)


def _posts_branch(
    where: ColumnElement[bool], max_id: int | None, limit: int, window: Window | None = None
) -> Select[int, int, int | None]:
    query: Select[int, int, int | None] = select(
        key_col(Post.id).label("entry_id"),
        key_col(Post.id).label("post_id"),
        cast(null(), BigInteger).label("booster_id"),
    )
    query = query.where(where, col(Post.deleted_at).is_(None))
    return in_window(query, col(Post.id), window or Window(max_id=max_id), limit)


#: A boost that waits for, or was refused, its author's approval (decision 0063) is in nobody's feed.
_APPROVED_BOOST = col(Announce.approval).is_(None)


def _boosts_branch(boosters: ColumnElement[bool], window: Window, limit: int) -> Select[int, int, int]:
    query: Select[int, int, int] = (
        select(
            key_col(Announce.id).label("entry_id"),
            col(Announce.post_id).label("post_id"),
            col(Announce.actor_id).label("booster_id"),
        )
        .join(Post, col(Post.id) == col(Announce.post_id))
        .where(boosters, col(Post.deleted_at).is_(None), col(Post.visibility).in_(OPEN), _APPROVED_BOOST)
    )
    return in_window(query, key_col(Announce.id), window, limit)


Branches = list[Select[int, int, int | None]] | list[Select[int, int, int]]


async def _run(session: AsyncSession, branches: Branches, limit: int, window: Window = OLDER) -> TimelinePage:
    return await session.run_sync(_page, branches, limit, None, window)


def _page(
    session: Session,
    branches: Branches,
    limit: int,
    params: dict[str, int] | None = None,
    window: Window = OLDER,
) -> TimelinePage:
    if len(branches) == 1:
        rows = session.connection().execute(branches[0], params).all()
    else:
        merged = union_all(*(select(branch.subquery()) for branch in branches)).subquery()
        order = merged.c.entry_id.asc() if window.oldest_first else merged.c.entry_id.desc()
        rows = session.execute(select(merged).order_by(order).limit(limit)).all()
    entries = [Entry(int(row[0]), int(row[1]), None if row[2] is None else int(row[2])) for row in rows]
    if window.oldest_first:  # read upwards from ``min_id``; shown newest first like every page
        entries.reverse()
        return TimelinePage(_without_repeats(entries), entries[-1].entry_id if entries else None)
    return TimelinePage(_without_repeats(entries), entries[-1].entry_id if len(entries) == limit else None)


def _without_repeats(entries: list[Entry]) -> list[Entry]:
    """A post shows once per page: at its newest appearance (as itself or as someone's boost)."""
    seen: set[int] = set()
    kept = []
    for entry in entries:
        if entry.post_id not in seen:
            seen.add(entry.post_id)
            kept.append(entry)
    return kept


def _clamp(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE_SIZE))


async def home_timeline(
    session: AsyncSession,
    actor_id: int,
    *,
    max_id: int | None = None,
    since_id: int | None = None,
    min_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> TimelinePage:
    """Posts and boosts by the accounts ``actor_id`` follows, and its own; replies only within that circle.
    Nothing by accounts it blocks or mutes (or that block it), nor boosts of their posts, nor posts and
    boosts by the members of its exclusive lists (those are read in the list)."""
    limit = _clamp(limit)
    window = Window(max_id, since_id, min_id)
    listed = _exclusively_listed(actor_id)
    circle = and_(
        or_(col(Post.author_id).in_(followed_ids(actor_id)), col(Post.author_id) == actor_id),
        col(Post.author_id).not_in(listed),
    )
    parent = aliased(Post)
    in_circle = select(col(parent.id)).where(
        or_(col(parent.author_id).in_(followed_ids(actor_id)), col(parent.author_id) == actor_id)
    )
    posts = _posts_branch(
        and_(
            circle,
            visible_to(actor_id),
            not_hidden_from(Post.author_id, actor_id),
            or_(col(Post.in_reply_to_ap_id).is_(None), col(Post.in_reply_to_id).in_(in_circle)),
        ),
        max_id,
        limit,
        window,
    )
    boosters = and_(
        or_(col(Announce.actor_id).in_(followed_ids(actor_id)), col(Announce.actor_id) == actor_id),
        col(Announce.actor_id).not_in(listed),
    )
    boosts = _boosts_branch(
        and_(boosters, not_hidden_from(Announce.actor_id, actor_id), not_hidden_from(Post.author_id, actor_id)),
        window,
        limit,
    )
    return await _run(session, [posts, boosts], limit, window)


def _exclusively_listed(actor_id: int) -> ColumnElement[int]:
    """Members of the exclusive lists of the account whose actor is ``actor_id``."""
    owner = select(col(Account.id)).where(col(Account.actor_id) == actor_id).scalar_subquery()
    return (
        select(col(ListMember.actor_id))
        .join(AccountList, col(AccountList.id) == col(ListMember.list_id))
        .where(col(AccountList.account_id) == owner, col(AccountList.exclusive).is_(True))
        .scalar_subquery()
    )


def list_member_ids(list_id: int, owner_actor_id: int) -> ColumnElement[int]:
    """The actor ids on a list that its owner still follows, as a subquery (a member counts while followed)."""
    return (
        select(col(ListMember.actor_id))
        .where(col(ListMember.list_id) == list_id, col(ListMember.actor_id).in_(followed_ids(owner_actor_id)))
        .scalar_subquery()
    )


def list_page(
    session: Session, owned: AccountList, owner_actor_id: int, window: Window, limit: int = PAGE_SIZE
) -> TimelinePage:
    """A list's timeline: its members' posts the owner may see, and their boosts, newest first. Replies
    follow the list's ``replies_policy``: a reply to oneself or to the owner always shows; otherwise
    ``followed`` shows replies to anyone the owner follows, ``list`` replies to the list's members,
    ``none`` no other replies. Blocks and mutes hold as in the home timeline."""
    limit = _clamp(limit)
    listed = list_member_ids(owned.id, owner_actor_id)
    parent = aliased(Post)
    replied_to = [col(parent.author_id) == col(Post.author_id), col(parent.author_id) == owner_actor_id]
    if owned.replies_policy == "followed":
        replied_to.append(col(parent.author_id).in_(followed_ids(owner_actor_id)))
    elif owned.replies_policy == "list":
        replied_to.append(col(parent.author_id).in_(listed))
    allowed_replies = select(col(parent.id)).where(or_(*replied_to))
    posts = _posts_branch(
        and_(
            col(Post.author_id).in_(listed),
            visible_to(owner_actor_id),
            not_hidden_from(Post.author_id, owner_actor_id),
            or_(col(Post.in_reply_to_ap_id).is_(None), col(Post.in_reply_to_id).in_(allowed_replies)),
        ),
        window.max_id,
        limit,
        window,
    )
    boosts = _boosts_branch(
        and_(
            col(Announce.actor_id).in_(listed),
            not_hidden_from(Announce.actor_id, owner_actor_id),
            not_hidden_from(Post.author_id, owner_actor_id),
        ),
        window,
        limit,
    )
    return _page(session, [posts, boosts], limit, None, window)


def _for_viewer(where: ColumnElement[bool], viewer_actor_id: int | None) -> ColumnElement[bool]:
    """``where``, less the authors a signed-in viewer blocks or mutes (or who block the viewer)."""
    return where if viewer_actor_id is None else and_(where, not_hidden_from(Post.author_id, viewer_actor_id))


def _with_media(where: ColumnElement[bool]) -> ColumnElement[bool]:
    return and_(where, col(Post.id).in_(select(col(PostMedia.post_id))))


async def public_timeline(
    session: AsyncSession,
    *,
    local_only: bool,
    remote_only: bool = False,
    with_media_only: bool = False,
    viewer_actor_id: int | None = None,
    max_id: int | None = None,
    since_id: int | None = None,
    min_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> TimelinePage:
    """Public top-level posts of this instance (``local_only``), of other servers (``remote_only``) or of
    everyone we know."""
    limit = _clamp(limit)
    window = Window(max_id, since_id, min_id)
    where = and_(col(Post.visibility) == "public", col(Post.in_reply_to_ap_id).is_(None))
    if local_only:
        where = and_(where, col(Post.is_local).is_(True))
    if remote_only:
        where = and_(where, col(Post.is_local).is_(False))
    if with_media_only:
        where = _with_media(where)
    branch = _posts_branch(_for_viewer(where, viewer_actor_id), max_id, limit, window)
    return await _run(session, [branch], limit, window)


async def tag_timeline(
    session: AsyncSession,
    tag: str,
    *,
    any_of: Sequence[str] = (),
    local_only: bool = False,
    remote_only: bool = False,
    with_media_only: bool = False,
    viewer_actor_id: int | None = None,
    max_id: int | None = None,
    since_id: int | None = None,
    min_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> TimelinePage:
    """Public posts with ``tag`` (or any of ``any_of``), replies included."""
    limit = _clamp(limit)
    window = Window(max_id, since_id, min_id)
    tagged = select(col(PostTag.post_id)).where(
        col(PostTag.tag).in_([tag, *any_of]) if any_of else col(PostTag.tag) == tag
    )
    where = and_(col(Post.visibility) == "public", col(Post.id).in_(tagged))
    if local_only:
        where = and_(where, col(Post.is_local).is_(True))
    if remote_only:
        where = and_(where, col(Post.is_local).is_(False))
    if with_media_only:
        where = _with_media(where)
    branch = _posts_branch(_for_viewer(where, viewer_actor_id), max_id, limit, window)
    return await _run(session, [branch], limit, window)


def _marked_page(
    session: Session,
    key: Mapped[int],
    post_id: Mapped[int],
    owner: ColumnElement[bool],
    viewer_actor_id: int,
    window: Window,
    limit: int,
) -> TimelinePage:
    """Posts marked by rows of one table (likes, bookmarks), keyed by the row's id, that the viewer may
    still see."""
    limit = _clamp(limit)
    query: Select[int, int, int | None] = (
        select(key.label("entry_id"), post_id.label("post_id"), cast(null(), BigInteger).label("booster_id"))
        .join(Post, col(Post.id) == post_id)
        .where(owner, col(Post.deleted_at).is_(None), visible_to(viewer_actor_id))
    )
    return _page(session, [in_window(query, key, window, limit)], limit, None, window)


def favourites_page(session: Session, actor_id: int, window: Window, limit: int = PAGE_SIZE) -> TimelinePage:
    """The posts ``actor_id`` liked, newest like first; each entry's id is its ``Like`` row's."""
    owner = col(Like.actor_id) == actor_id
    return _marked_page(session, key_col(Like.id), col(Like.post_id), owner, actor_id, window, limit)


def bookmarks_page(
    session: Session, account_id: int, actor_id: int, window: Window, limit: int = PAGE_SIZE
) -> TimelinePage:
    """The posts a local account bookmarked, newest bookmark first; each entry's id is its ``Bookmark``
    row's."""
    owner = col(Bookmark.account_id) == account_id
    return _marked_page(session, key_col(Bookmark.id), col(Bookmark.post_id), owner, actor_id, window, limit)


async def profile_timeline(
    session: AsyncSession,
    author_id: int,
    viewer_actor_id: int | None,
    *,
    max_id: int | None = None,
    limit: int = PAGE_SIZE,
    with_media_only: bool = False,
) -> TimelinePage:
    """``profile_page`` on an async session."""
    return await session.run_sync(
        profile_page, author_id, viewer_actor_id, max_id=max_id, limit=limit, with_media_only=with_media_only
    )


def profile_page(
    session: Session,
    author_id: int,
    viewer_actor_id: int | None,
    *,
    max_id: int | None = None,
    limit: int = PAGE_SIZE,
    with_media_only: bool = False,
) -> TimelinePage:
    """An account's own posts that ``viewer`` may see (replies left out), for the profile grid."""
    limit = _clamp(limit)
    if viewer_actor_id is None:  # a visitor: the same statement every time, built once
        params = {"author_id": author_id} if max_id is None else {"author_id": author_id, "max_id": max_id}
        return _page(session, [_public_profile_statement(limit, max_id is not None, with_media_only)], limit, params)
    where = and_(col(Post.author_id) == author_id, visible_to(viewer_actor_id), col(Post.in_reply_to_ap_id).is_(None))
    if with_media_only:
        where = and_(where, col(Post.id).in_(select(col(PostMedia.post_id))))
    return _page(session, [_posts_branch(where, max_id, limit)], limit)


@functools.cache
def _public_profile_statement(limit: int, paged: bool, with_media_only: bool) -> Select[int, int, int | None]:
    """``profile_page``'s statement for a visitor, with ``author_id`` (and ``max_id``) bound at execution."""
    where = and_(col(Post.author_id) == bindparam("author_id"), visible_to(None), col(Post.in_reply_to_ap_id).is_(None))
    if with_media_only:
        where = and_(where, col(Post.id).in_(select(col(PostMedia.post_id))))
    query: Select[int, int, int | None] = select(
        key_col(Post.id).label("entry_id"),
        key_col(Post.id).label("post_id"),
        cast(null(), BigInteger).label("booster_id"),
    )
    query = query.where(where, col(Post.deleted_at).is_(None))
    if paged:
        query = query.where(col(Post.id) < bindparam("max_id"))
    return query.order_by(col(Post.id).desc()).limit(limit)


async def search_actors(
    session: AsyncSession, text: str, *, limit: int = 20, offset: int = 0, followed_by: int | None = None
) -> list[Actor]:
    """Known accounts whose username or display name contains ``text`` (local ones first); with
    ``followed_by``, only those that actor follows."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").lower() + "%"
    query = (
        select(Actor)
        .where(
            col(Actor.gone_at).is_(None),
            col(Actor.type) != "Application",
            or_(col(Actor.username).ilike(pattern, escape="\\"), col(Actor.display_name).ilike(pattern, escape="\\")),
        )
        .order_by(col(Actor.is_local).desc(), col(Actor.username), col(Actor.id))
        .offset(offset)
        .limit(limit)
    )
    if followed_by is not None:
        query = query.where(col(Actor.id).in_(followed_ids(followed_by)))
    return list(await session.scalars(query))


@dataclass(frozen=True)
class AccountFeed:
    """What the client API's account statuses ask for (Mastodon's ``/api/v1/accounts/:id/statuses``)."""

    only_media: bool = False
    exclude_replies: bool = False
    exclude_reblogs: bool = False
    tagged: str | None = None


def account_statuses(
    session: Session,
    author_id: int,
    viewer_actor_id: int | None,
    feed: AccountFeed,
    *,
    max_id: int | None = None,
    newer_than: int | None = None,
    oldest_first: bool = False,
    limit: int = PAGE_SIZE,
) -> list[Entry]:
    """An account's posts ``viewer`` may see, replies included unless excluded, and its boosts (of posts
    the viewer may see), newest first. ``newer_than`` keeps entries above an id; with ``oldest_first`` the
    page is the one just above it (Mastodon's ``min_id``), still returned newest first."""
    limit = _clamp(limit)
    where = and_(col(Post.author_id) == author_id, visible_to(viewer_actor_id), col(Post.deleted_at).is_(None))
    if feed.exclude_replies:
        where = and_(where, col(Post.in_reply_to_ap_id).is_(None))
    if feed.only_media:
        where = and_(where, col(Post.id).in_(select(col(PostMedia.post_id))))
    if feed.tagged is not None:
        where = and_(where, col(Post.id).in_(select(col(PostTag.post_id)).where(col(PostTag.tag) == feed.tagged)))
    posts: Select[int, int, int | None] = select(
        key_col(Post.id).label("entry_id"), key_col(Post.id).label("post_id"), cast(null(), BigInteger)
    )
    branches: list[Select[int, int, int | None]] = [
        _bounded(posts, col(Post.id), where, max_id, newer_than, oldest_first, limit)
    ]
    if not (feed.exclude_reblogs or feed.only_media or feed.tagged is not None):  # a boost has no media or tags
        boosted = and_(
            col(Announce.actor_id) == author_id,
            col(Post.deleted_at).is_(None),
            col(Post.visibility).in_(OPEN),
            col(Announce.visibility).in_(OPEN),
            _APPROVED_BOOST,
        )
        if viewer_actor_id is not None:
            boosted = and_(
                boosted,
                not_blocked_between(Announce.actor_id, viewer_actor_id),
                not_blocked_between(Post.author_id, viewer_actor_id),
            )
        boosts: Select[int, int, int | None] = select(
            key_col(Announce.id).label("entry_id"), col(Announce.post_id).label("post_id"), col(Announce.actor_id)
        ).join(Post, col(Post.id) == col(Announce.post_id))
        branches.append(_bounded(boosts, col(Announce.id), boosted, max_id, newer_than, oldest_first, limit))
    merged = union_all(*(select(branch.subquery()) for branch in branches)).subquery()
    order = merged.c.entry_id.asc() if oldest_first else merged.c.entry_id.desc()
    rows = session.execute(select(merged).order_by(order).limit(limit)).all()
    entries = [Entry(int(row[0]), int(row[1]), None if row[2] is None else int(row[2])) for row in rows]
    return sorted(entries, key=lambda entry: entry.entry_id, reverse=True)


def _bounded(
    query: Select[int, int, int | None],
    key: Any,
    where: ColumnElement[bool],
    max_id: int | None,
    newer_than: int | None,
    oldest_first: bool,
    limit: int,
) -> Select[int, int, int | None]:
    """``query`` on one side of a keyset: below ``max_id``, above ``newer_than``, ``limit`` rows from the
    newest (or, ``oldest_first``, from just above ``newer_than``)."""
    query = query.where(where)
    if max_id is not None:
        query = query.where(key < max_id)
    if newer_than is not None:
        query = query.where(key > newer_than)
    return query.order_by(key.asc() if oldest_first else key.desc()).limit(limit)
