"""Create and Update from remote actors: notes (with their images) and profile changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import ACTOR_TYPES, audience, get_id, get_types
from fediverse.federation.actors_in import actor_fields, host_of
from fediverse.federation.ingest.context import IngestContext, embedded_object, object_id, post_by_id
from fediverse.federation.notes_in import RemoteNote, parse_note
from fediverse.federation.resolve import replace_attachments, store_remote_note, upsert_actor
from fediverse.federation.threads import queue_parent_fetch
from fediverse.notifications import notify
from fediverse.urls import Urls
from fediverse.visibility import can_see
from storage.models import Actor, DeletedObject, Follow, FollowState, NotificationType, Post


async def _authentic_note(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> dict[str, Any]:
    """The note an activity carries, believed only if it comes from the actor's own origin and names the
    actor as author; otherwise fetched again from its own id (GoToSocial's rule, federation.md §6)."""
    note = embedded_object(activity)
    note_id = object_id(activity)
    attributed = get_id(note.get("attributedTo")) if note is not None else None
    if note is None or host_of(note_id) != host_of(actor.ap_id) or attributed != actor.ap_id:
        note = await context.resolver.fetch_document(note_id)
    return note


async def _is_relevant(
    session: AsyncSession, urls: Urls, remote: RemoteNote, author: Actor, note: dict[str, Any]
) -> bool:
    """Mastodon keeps a note only when it touches someone here: a local follower of the author, a local
    addressee or mention, or a reply to (or remix of) a local post."""
    local_ids = [i for i in (*remote.mention_ids, *audience(note)) if urls.is_local(i)]
    if local_ids:
        return True
    for target in (remote.fields.get("in_reply_to_ap_id"), remote.fields.get("remix_of_ap_id")):
        if isinstance(target, str) and urls.is_local(target):
            return True
    follower = await session.scalar(
        select(Follow.id)
        .join(Actor, Actor.id == Follow.follower_id)
        .where(Follow.followee_id == author.id, Follow.state == FollowState.ACCEPTED, Actor.is_local.is_(True))
        .limit(1)
    )
    return follower is not None


async def _answers_an_unseen_post(session: AsyncSession, urls: Urls, remote: RemoteNote, author: Actor) -> bool:
    """A reply to a local post its author may not see (not addressed to them, across a block, or deleted)
    is refused: no row, no notification."""
    parent_id = remote.fields.get("in_reply_to_ap_id")
    if not isinstance(parent_id, str) or not urls.is_local(parent_id):
        return False
    parent = await post_by_id(session, parent_id)
    return parent is not None and not await can_see(session, parent, author.id)


async def _wanted(context: IngestContext, remote: RemoteNote, author: Actor, note: dict[str, Any]) -> bool:
    """Whether to store the note: not deleted before it arrived, not a repeat, touching someone here, and
    not a reply to a post its author may not see. One read session for all the checks."""
    async with context.db.session() as session:
        if await session.get(DeletedObject, remote.ap_id) is not None or await post_by_id(session, remote.ap_id):
            return False
        return await _is_relevant(session, context.urls, remote, author, note) and not await _answers_an_unseen_post(
            session, context.urls, remote, author
        )


async def handle_create(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    if context.urls.is_local(object_id(activity)):
        return  # nobody creates our objects for us
    note = await _authentic_note(context, actor, activity)
    author = actor
    attributed = get_id(note.get("attributedTo"))
    if attributed != actor.ap_id:  # a forwarded note: its author comes from the fetched copy
        author = await context.resolver.actor(attributed or "")
    remote = parse_note(note, author.followers_url)
    if host_of(remote.ap_id) != host_of(author.ap_id):
        raise InvalidDocumentError("the note is not on its author's server")
    if not await _wanted(context, remote, author, note):
        return
    local_addressees = [i for i in dict.fromkeys([*remote.mention_ids, *audience(note)]) if context.urls.is_local(i)]
    async with context.db.transaction() as session:
        post = await store_remote_note(
            session,
            RemoteNote(
                remote.ap_id,
                remote.author_id,
                remote.fields,
                remote.attachments,
                remote.tags,
                list(dict.fromkeys([*remote.mention_ids, *local_addressees])),
            ),
            author,
        )
        await _notify_locals(context, session, post, author, remote, local_addressees)
        # The parent we lack is fetched by the worker (ThreadFetchQueue), never inside this transaction.
        await queue_parent_fetch(session, context.urls, post)


async def _notify_locals(
    context: IngestContext, session: Any, post: Post, author: Actor, remote: RemoteNote, local_ids: list[str]
) -> None:
    assert author.id is not None
    notified: set[int] = set()
    for ap_id in local_ids:
        local = await session.scalar(select(Actor).where(Actor.ap_id == ap_id, Actor.is_local.is_(True)))
        if local is not None and local.id not in notified:
            await notify(session, local.id, NotificationType.MENTION, from_actor_id=author.id, post_id=post.id)
            notified.add(local.id)
    for target, kind in (
        (post.in_reply_to_ap_id, NotificationType.REPLY),
        (post.remix_of_ap_id, NotificationType.REMIX),
    ):
        if target and context.urls.is_local(target):
            source = await post_by_id(session, target)
            if source is not None and source.author_id not in notified:
                await notify(session, source.author_id, kind, from_actor_id=author.id, post_id=post.id)
                notified.add(source.author_id)


async def handle_update(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    target = object_id(activity)
    embedded = embedded_object(activity)
    if target == actor.ap_id:
        await _update_actor(context, actor, embedded)
        return
    if embedded is not None and get_types(embedded) & ACTOR_TYPES:
        raise InvalidDocumentError("an actor can only update itself")
    async with context.db.session() as session:
        post = await post_by_id(session, target)
    if post is None or post.author_id != actor.id or post.is_local or post.deleted_at is not None:
        return  # unknown to us (Mastodon ignores those too), or not theirs to edit
    note = await _authentic_note(context, actor, activity)
    remote = parse_note(note, actor.followers_url)
    edited = remote.fields.get("edited_at")
    if post.edited_at is not None and (edited is None or edited <= post.edited_at):
        return  # stale or repeated update
    async with context.db.transaction() as session:
        stored = await session.get(Post, post.id)
        if stored is None:
            return
        for name in ("content_html", "summary", "sensitive", "generation", "mood_word", "language", "raw"):
            setattr(stored, name, remote.fields.get(name))
        stored.edited_at = edited or stored.edited_at
        await replace_attachments(session, stored, remote)


async def _update_actor(context: IngestContext, actor: Actor, embedded: dict[str, Any] | None) -> None:
    """A profile change. The embedded document is used when it is the actor's own; else fetched."""
    document = embedded if embedded is not None and embedded.get("id") == actor.ap_id else None
    if document is None:
        document = await context.resolver.fetch_document(actor.ap_id)
    fields = actor_fields(document)
    async with context.db.transaction() as session:
        await upsert_actor(session, fields)
    context.forget_key(actor.public_key_id)
