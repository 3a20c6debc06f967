"""Plain Create{Note}s of a claimed batch, applied set-based in one unit of work (decision 0050).

Most of what a busy inbox receives is one thing: a sender we know posting a note, embedded in its Create,
that mentions or addresses someone here or comes from someone a local account follows. ``handle_create``
applies such a note with about a dozen statements of its own; here a whole run of them is applied with a
dozen statements in all (which are new, who follows their authors, the mentioned actors, the parents,
then one multi-row insert per table), in a synchronous unit of work (``Database.write``: one trip to the
database, no per-statement hop), each chunk in a savepoint.

A Create is *plain* when this module can apply it exactly as ``handle_create`` would without anything a
batch must not do: its sender is stored and usable, the note is embedded, believed without a fetch, valid
and the sender's own, it is not a reply to or remix of a local post (those ask the visibility rule of
the parent and notify its author: the handler does that), and it names no custom emoji (the handler stores
those per domain). Its attachments are queued for the remote media cache here, as the handler queues them.
Everything else — other activity types, and every later item of a sender once one of its items is not plain,
so that each sender's order is kept — goes through the handlers as before. The batch's plain likes, boosts
and their Undos (``plain_interactions``) share the split and the chunks: a chunk applies its Creates, then its
interactions (they touch different rows: likes and boosts of local posts). When a chunk's statements fail,
its savepoint rolls back and its items and every later plain item go through the handlers too, each in a
savepoint of its own, where a bad one fails alone with its reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, Update, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from activitypub.vocab import audience, get_id
from fediverse.core.domain_blocks import blocked_hosts_in
from fediverse.core.urls import Urls
from fediverse.federation.actors_in import host_of
from fediverse.federation.inbox.context import embedded_object
from fediverse.federation.inbox.plain_interactions import (
    NeedsHandler,
    PlainInteraction,
    apply_interactions,
    plain_interaction,
)
from fediverse.federation.notes_in import RemoteNote, parse_note
from fediverse.federation.remote_media import emoji_tags
from fediverse.federation.resolve import believed_copy
from fediverse.federation.threads import MAX_ANCESTORS
from storage.columns import table_of
from storage.db import UNAVAILABLE_ERRORS
from storage.dialects import insert_for
from storage.models import (
    Account,
    Actor,
    Block,
    DeletedObject,
    FetchKind,
    Follow,
    FollowState,
    InboxItem,
    Media,
    MediaFetch,
    MediaState,
    Mention,
    Notification,
    NotificationType,
    Post,
    PostMedia,
    PostTag,
    RemoteFetch,
    WorkState,
)
from storage.types import new_snowflake, utcnow

log = logging.getLogger(__name__)

#: Plain items applied per savepoint: a failing chunk sends at most this many (and the rest) to the handlers.
CHUNK = 50


@dataclass(frozen=True)
class PlainCreate:
    item: InboxItem
    author: Actor
    remote: RemoteNote
    #: The local actor ids among the note's mentions and addressees (in that order, once each).
    local_ids: list[str]


#: An item this module applies set-based: a plain Create, or a plain like, boost or Undo of one.
Plain = PlainCreate | PlainInteraction


def split_plain(
    items: Sequence[InboxItem], senders: dict[str, Actor], urls: Urls
) -> tuple[list[Plain], list[InboxItem]]:
    """``items`` (in order) as the plain ones and the rest, in order. Once an item of a sender is not
    plain, neither is any later one of that sender. Pure Python (parsing and sanitising the notes): run it
    off the event loop and outside the writer."""
    plain: list[Plain] = []
    rest: list[InboxItem] = []
    held_back: set[str] = set()
    for item in items:
        found: Plain | None = None
        if item.actor_ap_id not in held_back:
            sender = senders.get(item.actor_ap_id)
            found = _plain_create(item, sender, urls) or plain_interaction(item, sender, urls)
        if found is None:
            held_back.add(item.actor_ap_id)
            rest.append(item)
        else:
            plain.append(found)
    return plain, rest


def _plain_create(item: InboxItem, sender: Actor | None, urls: Urls) -> PlainCreate | None:
    """What ``handle_create`` checks before it writes, when the answer needs nothing but the activity."""
    activity = item.payload
    if item.type != "Create" or sender is None or sender.gone_at is not None or not isinstance(activity, dict):
        return None
    note_id = get_id(activity.get("object"))
    if not note_id or urls.is_local(note_id) or host_of(note_id) != host_of(sender.ap_id):
        return None
    note = believed_copy(note_id, embedded_object(activity), sender=sender.ap_id)
    if note is None:
        return None
    try:
        remote = parse_note(note, sender.followers_url)
    except Exception:  # the handler fails it, with its reason
        return None
    if remote.author_id != sender.ap_id or emoji_tags(note):  # custom emoji: the handler stores them
        return None
    parent, remix = remote.fields.get("in_reply_to_ap_id"), remote.fields.get("remix_of_ap_id")
    if remote.fields.get("quote_ap_id"):
        return None  # a quote's card needs the quoted post, whose fetch the handler queues (decision 0064)
    if parent == remote.ap_id or any(isinstance(target, str) and urls.is_local(target) for target in (parent, remix)):
        return None
    local_ids = [i for i in dict.fromkeys([*remote.mention_ids, *audience(note)]) if urls.is_local(i)]
    return PlainCreate(item, sender, remote, local_ids)


@dataclass
class PlainOutcome:
    """What ``apply_plain`` did: the items applied (their "done" marks are written with them), and those
    it did not get to (``later``: the writer was wanted back) or could not apply (``to_handlers``)."""

    applied: list[InboxItem]
    later: list[Plain]
    to_handlers: list[InboxItem]


def apply_plain(
    session: Session,
    creates: Sequence[Plain],
    *,
    record: Callable[[Session, Sequence[tuple[InboxItem, BaseException | None]]], None],
    max_hold: float,
    hold_while_waited: float,
    writer_wanted: Callable[[], bool],
) -> PlainOutcome:
    """Apply ``creates`` chunk by chunk, each in a savepoint, and ``record`` the applied items as done in the
    same transaction. Stops between chunks after ``max_hold`` seconds, or ``hold_while_waited`` once
    ``writer_wanted()`` (the inbox's group commit waits), leaving the rest for another unit."""
    started = time.monotonic()
    applied: list[InboxItem] = []
    position = 0
    while position < len(creates):
        chunk = creates[position : position + CHUNK]
        try:
            with session.begin_nested():
                _apply_chunk(session, chunk)
        except UNAVAILABLE_ERRORS:
            raise  # the whole transaction is lost; the claims expire and the batch is tried again
        except Exception as error:
            if not isinstance(error, NeedsHandler):
                log.warning(
                    "%d plain items failed together (%s); applying them one by one", len(chunk), error, exc_info=True
                )
            # Which item broke it is the handlers' to find, each in its own savepoint; the later ones follow
            # them so that each sender's order is kept.
            record(session, [(item, None) for item in applied])
            return PlainOutcome(applied, [], [create.item for create in creates[position:]])
        applied.extend(create.item for create in chunk)
        position += len(chunk)
        held = time.monotonic() - started
        if held >= max_hold or (held >= hold_while_waited and writer_wanted()):
            break
    record(session, [(item, None) for item in applied])
    return PlainOutcome(applied, list(creates[position:]), [])


def _apply_chunk(session: Session, chunk: Sequence[Plain]) -> None:
    """The chunk's Creates, then its likes, boosts and Undos, each kind in a constant number of statements."""
    creates = [entry for entry in chunk if isinstance(entry, PlainCreate)]
    if creates:
        _apply_creates(session, creates)
    interactions = [entry for entry in chunk if isinstance(entry, PlainInteraction)]
    if interactions:
        apply_interactions(session, interactions)


def _apply_creates(session: Session, chunk: Sequence[PlainCreate]) -> None:
    """``handle_create`` for each note of ``chunk``, in a constant number of statements."""
    note_ids = list({create.remote.ap_id for create in chunk})
    known = set(session.scalars(select(col(Post.ap_id)).where(col(Post.ap_id).in_(note_ids))))
    deleted_by = dict(
        session.execute(
            select(col(DeletedObject.ap_id), col(DeletedObject.actor_ap_id)).where(
                col(DeletedObject.ap_id).in_(note_ids)
            )
        ).all()
    )
    # Relevance (Mastodon keeps a note that touches someone here): a local addressee, else a local follower.
    authors = {create.author.id for create in chunk if not create.local_ids}
    followed = (
        set(
            session.scalars(
                select(col(Follow.followee_id))
                .join(Actor, col(Actor.id) == col(Follow.follower_id))
                .where(
                    col(Follow.followee_id).in_(authors),
                    col(Follow.state) == FollowState.ACCEPTED,
                    col(Actor.is_local).is_(True),
                )
                .distinct()
            )
        )
        if authors
        else set()
    )
    wanted: list[PlainCreate] = []
    for create in chunk:
        ap_id = create.remote.ap_id
        if ap_id in known or deleted_by.get(ap_id) == create.author.ap_id:
            continue  # a repeat, or deleted by its author before it arrived
        if not create.local_ids and create.author.id not in followed:
            continue
        known.add(ap_id)
        wanted.append(create)
    if wanted:
        _store(session, wanted)


def _store(session: Session, creates: Sequence[PlainCreate]) -> None:
    """``store_remote_note``, ``_notify_locals`` and ``queue_parent_fetch`` for new, wanted notes."""
    mentioned = {
        create.remote.ap_id: list(dict.fromkeys([*create.remote.mention_ids, *create.local_ids])) for create in creates
    }
    actor_ids = {ap_id for names in mentioned.values() for ap_id in names}
    actors: dict[str, tuple[int, bool]] = (
        {
            ap_id: (actor_id, is_local)
            for actor_id, ap_id, is_local in session.execute(
                select(col(Actor.id), col(Actor.ap_id), col(Actor.is_local)).where(col(Actor.ap_id).in_(actor_ids))
            ).all()
            if actor_id is not None
        }
        if actor_ids
        else {}
    )
    parents = {parent for create in creates if isinstance(parent := create.remote.fields.get("in_reply_to_ap_id"), str)}
    stored_parents: dict[str, int] = (
        dict(session.execute(select(col(Post.ap_id), col(Post.id)).where(col(Post.ap_id).in_(parents))).all())
        if parents
        else {}
    )

    posts: list[dict[str, Any]] = []
    media: list[dict[str, Any]] = []
    media_of: list[tuple[int, int]] = []  # (post id, position), one per ``media`` row
    tags: list[dict[str, Any]] = []
    mentions: list[dict[str, Any]] = []
    post_ids: dict[str, int] = {}
    for create in creates:
        remote, author = create.remote, create.author
        post_id = new_snowflake()
        post_ids[remote.ap_id] = post_id
        row = {key: value for key, value in remote.fields.items() if value is not None or key == "in_reply_to_ap_id"}
        row.setdefault("published", utcnow())
        parent = row.get("in_reply_to_ap_id")
        row.update(
            id=post_id,
            author_id=author.id,
            is_local=False,
            in_reply_to_id=stored_parents.get(parent) if isinstance(parent, str) else None,
        )
        posts.append(row)
        for position, attachment in enumerate(remote.attachments):
            media.append(
                {
                    "state": MediaState.REMOTE,
                    "mime": attachment.mime,
                    "remote_url": attachment.url,
                    "alt_text": attachment.alt_text,
                    "blurhash": attachment.blurhash,
                    "width": attachment.width,
                    "height": attachment.height,
                    "focal_x": attachment.focal_x,
                    "focal_y": attachment.focal_y,
                }
            )
            media_of.append((post_id, position))
        tags.extend({"post_id": post_id, "tag": tag} for tag in remote.tags)
        mentions.extend(
            {"post_id": post_id, "actor_id": actors[ap_id][0]} for ap_id in mentioned[remote.ap_id] if ap_id in actors
        )

    posts_table = table_of(Post)
    # Rows differ in which columns they leave to their defaults (as the ORM would insert them): one
    # multi-row insert per shape, usually one.
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in posts:
        shapes.setdefault(tuple(sorted(row)), []).append(row)
    for rows in shapes.values():
        session.execute(insert(posts_table), rows)
    session.execute(_LINK_REPLIES, {"parents": list(post_ids)})
    if media:
        media_table = table_of(Media)
        media_ids = (
            session.execute(insert(media_table).returning(media_table.c.id, sort_by_parameter_order=True), media)
            .scalars()
            .all()
        )
        session.execute(
            insert(table_of(PostMedia)),
            [
                {"post_id": post_id, "media_id": media_id, "position": position}
                for (post_id, position), media_id in zip(media_of, media_ids, strict=True)
            ],
        )
        now = utcnow()  # each file queued for the cache, as ``remote_media.queue_media_fetches`` does
        session.execute(
            insert(table_of(MediaFetch)),
            [
                {
                    "media_id": media_id,
                    "state": WorkState.QUEUED,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for media_id in media_ids
            ],
        )
    if tags:
        session.execute(insert(table_of(PostTag)), tags)
    if mentions:
        session.execute(insert(table_of(Mention)), mentions)
    _notify(session, creates, actors, post_ids)
    _queue_parent_fetches(session, creates, stored_parents, post_ids)


def _link_replies() -> Update:
    """Replies stored before their parent (earlier, or earlier in this batch) now point at it: ``link_replies``
    for every new post ``parents`` names at once."""
    posts, parent = table_of(Post), table_of(Post).alias("parent")
    return (
        update(posts)
        .where(
            posts.c.in_reply_to_ap_id.in_(bindparam("parents", expanding=True)),
            posts.c.in_reply_to_id.is_(None),
            posts.c.ap_id != posts.c.in_reply_to_ap_id,
        )
        .values(in_reply_to_id=select(parent.c.id).where(parent.c.ap_id == posts.c.in_reply_to_ap_id).scalar_subquery())
    )


_LINK_REPLIES = _link_replies()


def _notify(
    session: Session, creates: Sequence[PlainCreate], actors: dict[str, tuple[int, bool]], post_ids: dict[str, int]
) -> None:
    """``notify`` of a mention for each local addressee, as ``_notify_locals`` does: not oneself, not across
    a block, only local accounts (not the instance actor), only who may see the post. Each local addressee
    is among the note's mentions, so ``may_see`` asks nothing beyond the block."""
    wanted: list[tuple[int, int, int]] = []  # (recipient actor, author, post)
    for create in creates:
        assert create.author.id is not None
        notified: set[int] = set()
        for ap_id in create.local_ids:
            found = actors.get(ap_id)
            if found is None or not found[1] or found[0] in notified:
                continue
            notified.add(found[0])
            if found[0] != create.author.id:
                wanted.append((found[0], create.author.id, post_ids[create.remote.ap_id]))
    if not wanted:
        return
    recipients = {recipient for recipient, _, _ in wanted}
    authors = {author for _, author, _ in wanted}
    blocked = {
        frozenset(pair)
        for pair in session.execute(
            select(col(Block.blocker_id), col(Block.blocked_id)).where(
                or_(
                    col(Block.blocker_id).in_(recipients) & col(Block.blocked_id).in_(authors),
                    col(Block.blocker_id).in_(authors) & col(Block.blocked_id).in_(recipients),
                )
            )
        ).all()
    }
    accounts = dict(
        session.execute(
            select(col(Account.actor_id), col(Account.id)).where(col(Account.actor_id).in_(recipients))
        ).all()
    )
    rows = [
        {"account_id": accounts[recipient], "type": NotificationType.MENTION, "actor_id": author, "post_id": post_id}
        for recipient, author, post_id in wanted
        if recipient in accounts and frozenset((recipient, author)) not in blocked
    ]
    if rows:
        session.execute(insert(table_of(Notification)), rows)


def _queue_parent_fetches(
    session: Session, creates: Sequence[PlainCreate], stored_parents: dict[str, int], post_ids: dict[str, int]
) -> None:
    """``queue_parent_fetch`` for the notes answering a post we lack (and that this batch did not bring)."""
    missing = {
        parent
        for create in creates
        if isinstance(parent := create.remote.fields.get("in_reply_to_ap_id"), str)
        and parent not in stored_parents
        and parent not in post_ids
        and parent.startswith(("https://", "http://"))
    }
    if not missing or MAX_ANCESTORS < 1:
        return
    blocked = blocked_hosts_in(session, {host_of(parent) for parent in missing})
    targets = sorted(parent for parent in missing if host_of(parent) not in blocked)
    if not targets:
        return
    table: Table = table_of(RemoteFetch)
    dialect_insert = insert_for(session.get_bind().dialect.name)
    now = utcnow()
    session.execute(
        dialect_insert(table).on_conflict_do_nothing(index_elements=["kind", "target_ap_id"]),
        [
            {
                "kind": FetchKind.NOTE,
                "target_ap_id": target,
                "depth": 1,
                "state": WorkState.QUEUED,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for target in targets
        ],
    )
