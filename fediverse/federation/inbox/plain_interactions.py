"""Plain likes and boosts of local posts, and their Undos, applied set-based in one unit of work (decision 0050).

The other half of what a busy inbox receives, after plain Creates (``plain_creates``): a popular local post
is liked and boosted by many servers at once, and they undo some of it. ``handle_like``, ``handle_announce``
and ``handle_undo`` apply each with about ten statements; here a chunk of them is applied with a constant
number: the posts, the likes and boosts already stored, the one read rule for every (post, actor) pair (one
statement, ``visible_to`` correlated to each actor), the authors' accounts, then one insert or delete per table.

An interaction is *plain* when its sender is stored and usable and it is one of: a ``Like`` or ``Announce``
whose object is a local post (likes and boosts of other servers' posts ask whether a local account follows
the booster, and may fetch the post: the handler does that), or an ``Undo`` that embeds the ``Like`` or
``Announce`` it undoes, by its own actor. Within a chunk the items are taken in order, so a like and its
undo in the same batch cancel out as they would one by one. Likes and boosts of local posts do not depend
on the notes that plain Creates store, so applying the plain Creates first keeps each sender's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, tuple_
from sqlalchemy.orm import Session
from sqlmodel import col

from activitypub.vocab import get_id, get_str
from fediverse.core.interaction_policy import BOOSTABLE
from fediverse.core.urls import Urls
from fediverse.core.visibility import visible_to
from fediverse.federation.actors_in import parse_datetime
from fediverse.federation.inbox.context import embedded_object
from storage.columns import table_of
from storage.models import Account, Actor, Announce, InboxItem, Like, Notification, NotificationType, Post
from storage.types import utcnow

#: The interaction kinds this module applies, the table of each, and the notification each gives.
KINDS: dict[str, tuple[type[Like] | type[Announce], NotificationType]] = {
    "Like": (Like, NotificationType.LIKE),
    "Announce": (Announce, NotificationType.ANNOUNCE),
}


@dataclass(frozen=True)
class PlainInteraction:
    item: InboxItem
    actor: Actor
    #: ``Like`` or ``Announce``: what is done, or undone.
    kind: str
    undo: bool
    #: The activity's id; for an Undo, the id of the activity it undoes.
    activity_id: str
    #: The post's id: the object of a Like or Announce; of an Undo, the undone activity's object (may be None).
    target: str | None
    published: datetime | None = None


def plain_interaction(item: InboxItem, sender: Actor | None, urls: Urls) -> PlainInteraction | None:
    """What ``handle_like``, ``handle_announce`` and ``handle_undo`` check before they write, when the answer
    needs nothing but the activity; ``None`` leaves the item to its handler."""
    activity = item.payload
    if sender is None or sender.gone_at is not None or not isinstance(activity, dict):
        return None
    activity_id, target = activity.get("id"), get_id(activity.get("object"))
    if not isinstance(activity_id, str) or not target:
        return None
    if item.type in KINDS:
        if not urls.is_local(target):
            return None
        published = parse_datetime(activity.get("published")) or utcnow() if item.type == "Announce" else None
        return PlainInteraction(item, sender, item.type, False, activity_id, target, published)
    if item.type != "Undo":
        return None
    undone = embedded_object(activity)
    kind = get_str(undone, "type") if undone is not None else None
    if undone is None or kind not in KINDS or get_id(undone.get("actor")) not in (None, sender.ap_id):
        return None
    return PlainInteraction(item, sender, kind, True, target, get_id(undone.get("object")))


class NeedsHandler(Exception):
    """A chunk holds an item found, once its rows were read, to need its handler: a Like of a followers-only
    or direct post, which the handler may have to answer with an ``Accept`` (``social.approvals``)."""


@dataclass(frozen=True)
class _PostRow:
    id: int
    author_id: int
    visibility: str
    deleted: bool


@dataclass
class _Stored:
    """A like or boost as the chunk leaves it: stored before (``row_id``) or inserted by this chunk."""

    kind: str
    actor_id: int
    post_id: int
    ap_id: str
    row_id: int | None = None
    published: datetime | None = None
    removed: bool = False


@dataclass
class _Known:
    """The likes and boosts stored before or by this chunk, by (kind, actor, post) and by (kind, actor,
    activity id); and the ids of the posts they are on, by the posts' ap_id."""

    by_pair: dict[tuple[str, int, int], _Stored] = field(default_factory=dict)
    by_id: dict[tuple[str, int, str], _Stored] = field(default_factory=dict)
    post_ids: dict[str, int] = field(default_factory=dict)


@dataclass
class _Changes:
    inserted: list[_Stored] = field(default_factory=list)
    deleted: list[_Stored] = field(default_factory=list)


def apply_interactions(session: Session, chunk: Sequence[PlainInteraction]) -> None:
    """``handle_like``, ``handle_announce`` and ``handle_undo`` for each item of ``chunk``, in order, in a
    constant number of statements."""
    posts = _posts(session, {entry.target for entry in chunk if entry.target})
    stored = _stored(session, chunk)
    visible = _visible_pairs(
        session,
        {
            (entry.actor.id, posts[entry.target].id)
            for entry in chunk
            if not entry.undo and entry.target in posts and entry.actor.id is not None
        },
    )
    changes = _Changes()
    for entry in chunk:
        actor_id = entry.actor.id
        assert actor_id is not None
        if entry.undo:
            _undo(entry, actor_id, posts, stored, changes)
            continue
        post = posts.get(entry.target or "")
        if post is not None and not post.deleted and entry.kind == "Like" and post.visibility not in BOOSTABLE:
            raise NeedsHandler(entry.activity_id)
        if post is None or post.deleted or (entry.kind == "Announce" and post.visibility not in BOOSTABLE):
            continue
        key = (entry.kind, actor_id, post.id)
        if (existing := stored.by_pair.get(key)) is not None and not existing.removed:
            continue
        if (actor_id, post.id) not in visible:
            continue
        row = _Stored(entry.kind, actor_id, post.id, entry.activity_id, published=entry.published)
        stored.by_pair[key] = row
        stored.by_id[(entry.kind, actor_id, entry.activity_id)] = row
        changes.inserted.append(row)
    _write(session, changes, {post.id: post.author_id for post in posts.values()})


def _undo(
    entry: PlainInteraction,
    actor_id: int,
    posts: dict[str, _PostRow],
    stored: _Known,
    changes: _Changes,
) -> None:
    """``receive_undo``: the row by the undone activity's id, else by the post it acted on."""
    row = stored.by_id.get((entry.kind, actor_id, entry.activity_id))
    if (row is None or row.removed) and entry.target is not None:
        post_id = stored.post_ids.get(entry.target) or (posts[entry.target].id if entry.target in posts else None)
        row = stored.by_pair.get((entry.kind, actor_id, post_id)) if post_id is not None else None
    if row is None or row.removed:
        return
    row.removed = True
    if row.row_id is None:
        changes.inserted.remove(row)  # liked and unliked in this chunk: neither reaches the database
    else:
        changes.deleted.append(row)


_POSTS = select(col(Post.ap_id), col(Post.id), col(Post.author_id), col(Post.visibility), col(Post.deleted_at))


def _posts(session: Session, ap_ids: set[str]) -> dict[str, _PostRow]:
    if not ap_ids:
        return {}
    return {
        ap_id: _PostRow(post_id, author_id, visibility, deleted_at is not None)
        for ap_id, post_id, author_id, visibility, deleted_at in session.execute(
            _POSTS.where(col(Post.ap_id).in_(ap_ids))
        ).all()
    }


def _stored(session: Session, chunk: Sequence[PlainInteraction]) -> _Known:
    """The likes and boosts the chunk's actors already have on its posts, or that its Undos name: one query
    per kind."""
    known = _Known()
    for kind, (model, _) in KINDS.items():
        entries = [entry for entry in chunk if entry.kind == kind]
        if not entries:
            continue
        actors = {entry.actor.id for entry in entries}
        targets = {entry.target for entry in entries if entry.target}
        undone = {entry.activity_id for entry in entries if entry.undo}
        found = session.execute(
            select(col(model.id), col(model.actor_id), col(model.post_id), col(model.ap_id), col(Post.ap_id))
            .join(Post, col(Post.id) == col(model.post_id))
            .where(col(model.actor_id).in_(actors), col(Post.ap_id).in_(targets) | col(model.ap_id).in_(undone))
        ).all()
        for row_id, actor_id, post_id, ap_id, post_ap_id in found:
            row = _Stored(kind, actor_id, post_id, ap_id or "", row_id=row_id)
            known.by_pair[(kind, actor_id, post_id)] = row
            if ap_id:
                known.by_id[(kind, actor_id, ap_id)] = row
            known.post_ids[post_ap_id] = post_id
    return known


#: Which of the actors may see which of the posts, by the one read rule asked of each actor row (its
#: subqueries correlated to it): one statement, built once, for every (actor, post) pair of a chunk.
_VIEWER = table_of(Actor).c.id
_VISIBLE = select(_VIEWER, col(Post.id)).where(
    _VIEWER.in_(bindparam("actors", expanding=True)),
    col(Post.id).in_(bindparam("posts", expanding=True)),
    col(Post.deleted_at).is_(None),
    visible_to(_VIEWER),
)


def _visible_pairs(session: Session, pairs: set[tuple[int | None, int]]) -> set[tuple[int, int]]:
    """The (actor, post) pairs where the actor may see the post, by the one read rule (``visible_to``)."""
    wanted = {(actor_id, post_id) for actor_id, post_id in pairs if actor_id is not None}
    if not wanted:
        return set()
    found = session.execute(
        _VISIBLE, {"actors": list({actor for actor, _ in wanted}), "posts": list({post for _, post in wanted})}
    )
    return {
        (actor_id, post_id) for actor_id, post_id in found if actor_id is not None and (actor_id, post_id) in wanted
    }


def _write(session: Session, changes: _Changes, authors: dict[int, int]) -> None:
    """The inserts and deletes, and the notifications that ``notify`` gives and ``withdraw_notification``
    takes back: to the post's author when it has an account and is not the actor (a like across a block
    was refused above, and the author sees its own post)."""
    stored_authors = {row.post_id for row in changes.deleted if row.post_id not in authors}
    if stored_authors:
        authors.update(
            session.execute(select(col(Post.id), col(Post.author_id)).where(col(Post.id).in_(stored_authors))).all()
        )
    recipients = {authors[row.post_id] for row in [*changes.inserted, *changes.deleted]}
    accounts: dict[int, int] = {}
    if recipients:
        found = select(col(Account.actor_id), col(Account.id)).where(col(Account.actor_id).in_(recipients))
        accounts = {actor_id: account_id for actor_id, account_id in session.execute(found) if account_id is not None}
    for kind, (model, _) in KINDS.items():
        gone = [row.row_id for row in changes.deleted if row.kind == kind]
        if gone:
            session.execute(delete(table_of(model)).where(table_of(model).c.id.in_(gone)))
        rows = [
            {"actor_id": row.actor_id, "post_id": row.post_id, "ap_id": row.ap_id}
            | ({"published": row.published} if kind == "Announce" else {})
            for row in changes.inserted
            if row.kind == kind
        ]
        if rows:
            session.execute(insert(table_of(model)), rows)
    withdrawn = [
        (accounts[authors[row.post_id]], KINDS[row.kind][1], row.actor_id, row.post_id)
        for row in changes.deleted
        if authors[row.post_id] in accounts
    ]
    if withdrawn:
        notifications = table_of(Notification)
        session.execute(
            delete(notifications).where(
                tuple_(
                    notifications.c.account_id, notifications.c.type, notifications.c.actor_id, notifications.c.post_id
                ).in_(withdrawn)
            )
        )
    notified = [
        {
            "account_id": accounts[authors[row.post_id]],
            "type": KINDS[row.kind][1],
            "actor_id": row.actor_id,
            "post_id": row.post_id,
        }
        for row in changes.inserted
        if authors[row.post_id] in accounts and authors[row.post_id] != row.actor_id
    ]
    if notified:
        session.execute(insert(table_of(Notification)), notified)
