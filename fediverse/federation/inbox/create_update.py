"""Create and Update from remote actors: notes (with their images) and profile changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import ACTOR_TYPES, audience, get_types
from fediverse.core.interaction_policy import REPLY
from fediverse.core.urls import Urls
from fediverse.core.visibility import can_see
from fediverse.federation.actors_in import actor_fields, host_of, webfinger_address
from fediverse.federation.inbox.context import IngestContext, embedded_object, object_id, post_by_id
from fediverse.federation.notes_in import QUOTE_FIELDS, RemoteNote, parse_note
from fediverse.federation.resolve import replace_attachments, store_remote_note, upsert_actor
from fediverse.federation.threads import queue_parent_fetch, queue_quote_fetch
from fediverse.social.approvals import accept_if_awaited
from fediverse.social.edits import keep_version
from fediverse.social.notifications import notify, notify_quoted_update
from storage.cache import POSTS, bump
from storage.models import Actor, Follow, FollowState, NotificationType, Post, QuoteState


async def _senders_note(
    context: IngestContext, actor: Actor, activity: dict[str, Any]
) -> tuple[dict[str, Any], RemoteNote]:
    """The note a Create or Update carries, which must be the sending actor's own: on its server and
    attributed to it. A forward keeps the author as the activity's actor, so a note of anyone else here is a
    forgery (Mastodon refuses a Create of another server's object). The embedded copy is believed or
    fetched again by ``Resolver.authentic_object``."""
    note_id = object_id(activity)
    if host_of(note_id) != host_of(actor.ap_id):
        raise InvalidDocumentError("the object is not on the sending actor's server")
    note = await context.authentic_object(note_id, embedded_object(activity), sender=actor.ap_id)
    remote = parse_note(note, actor.followers_url)
    if remote.author_id != actor.ap_id:
        raise InvalidDocumentError("the object is not attributed to the sending actor")
    return note, remote


async def _is_relevant(
    session: AsyncSession,
    urls: Urls,
    remote: RemoteNote,
    author: Actor,
    note: dict[str, Any],
    *,
    in_known_thread: bool = False,
) -> bool:
    """Mastodon keeps a note only when it touches someone here: a local follower of the author, a local
    addressee or mention, a reply to (or remix of) a local post, or an object link (FEP-e232) to one.
    ``in_known_thread`` (a forwarded reply, decision 0058): a reply to any post we store counts too."""
    local_ids = [i for i in (*remote.mention_ids, *audience(note)) if urls.is_local(i)]
    if local_ids:
        return True
    parent = remote.fields.get("in_reply_to_ap_id")
    for target in (parent, remote.fields.get("remix_of_ap_id"), remote.fields.get("quote_ap_id"), *remote.object_links):
        if isinstance(target, str) and urls.is_local(target):
            return True
    if in_known_thread and isinstance(parent, str):
        stored = await post_by_id(session, parent)
        if stored is not None and stored.deleted_at is None:
            return True
    follower = await session.scalar(
        select(col(Follow.id))
        .join(Actor, col(Actor.id) == col(Follow.follower_id))
        .where(
            col(Follow.followee_id) == author.id,
            col(Follow.state) == FollowState.ACCEPTED,
            col(Actor.is_local).is_(True),
        )
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


async def _wanted(
    context: IngestContext, remote: RemoteNote, author: Actor, note: dict[str, Any], *, in_known_thread: bool
) -> bool:
    """Whether to store the note: not deleted before it arrived, not a repeat, touching someone here, and
    not a reply to a post its author may not see. One read session for all the checks (in a batch, the
    batch's transaction and what it looked up for all its items)."""
    async with context.reading() as session:
        if not await context.is_new_post(session, remote.ap_id, author.ap_id):
            return False
        relevant = await _is_relevant(session, context.urls, remote, author, note, in_known_thread=in_known_thread)
        return relevant and not await _answers_an_unseen_post(session, context.urls, remote, author)


async def handle_create(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    await create_note(context, actor, activity)


async def create_note(
    context: IngestContext, actor: Actor, activity: dict[str, Any], *, in_known_thread: bool = False
) -> None:
    """Store the note a Create carries when it concerns someone here; ``in_known_thread`` also keeps a reply
    to any post we store (a forwarded reply whose author is authenticated, decision 0058)."""
    if context.urls.is_local(object_id(activity)):
        return  # nobody creates our objects for us
    note, remote = await _senders_note(context, actor, activity)
    if not await _wanted(context, remote, actor, note, in_known_thread=in_known_thread):
        return
    local_addressees = [i for i in dict.fromkeys([*remote.mention_ids, *audience(note)]) if context.urls.is_local(i)]
    async with context.writing() as session:
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
            actor,
            known_new=context.batch is not None,  # checked by ``_wanted`` in this same transaction
        )
        context.stored(post.ap_id)
        await _notify_locals(context, session, post, actor, remote, local_addressees)
        if post.in_reply_to_ap_id and context.urls.is_local(post.in_reply_to_ap_id):
            parent = await post_by_id(session, post.in_reply_to_ap_id)
            if parent is not None:
                await accept_if_awaited(session, context.urls, parent, actor, REPLY, post.id, note)
        # The parent and the quoted post we lack are fetched by the worker (ThreadFetchQueue), never inside
        # this transaction.
        await queue_parent_fetch(session, context.urls, post)
        await queue_quote_fetch(session, context.urls, post)


async def _notify_locals(
    context: IngestContext, session: Any, post: Post, author: Actor, remote: RemoteNote, local_ids: list[str]
) -> None:
    assert author.id is not None
    notified: set[int] = set()
    for ap_id in local_ids:
        local_id = await context.local_actor_id(session, ap_id)
        if local_id is not None and local_id not in notified:
            await notify(session, local_id, NotificationType.MENTION, from_actor_id=author.id, post_id=post.id)
            notified.add(local_id)
    for target, kind in (
        (post.in_reply_to_ap_id, NotificationType.REPLY),
        (post.remix_of_ap_id, NotificationType.REMIX),
        (post.quote_ap_id if post.quote_state != QuoteState.REJECTED else None, NotificationType.QUOTE),
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
    async with context.reading() as session:
        post = await post_by_id(session, target)
    if post is None or post.is_local or post.deleted_at is not None:
        return  # unknown to us (Mastodon ignores those too), or ours, which nobody edits for us
    if post.author_id != actor.id:
        raise InvalidDocumentError("only its author can update a note")
    _, remote = await _senders_note(context, actor, activity)
    edited = remote.fields.get("edited_at")
    if post.edited_at is not None and (edited is None or edited <= post.edited_at):
        return  # stale or repeated update
    async with context.writing() as session:
        stored = await session.get(Post, post.id)
        if stored is None:
            return
        await keep_version(session, stored)
        for name in (
            "content_html",
            "summary",
            "sensitive",
            "generation",
            "mood_word",
            "language",
            "interaction_policy",
            "raw",
            *QUOTE_FIELDS,
        ):
            setattr(stored, name, remote.fields.get(name))
        stored.edited_at = edited or stored.edited_at
        await replace_attachments(session, stored, remote)
        await notify_quoted_update(session, stored)
        await bump(session, POSTS)


async def _update_actor(context: IngestContext, actor: Actor, embedded: dict[str, Any] | None) -> None:
    """A profile change: the actor's own document, as embedded or fetched again (``authentic_object``)."""
    document = await context.authentic_object(actor.ap_id, embedded, sender=actor.ap_id)
    # An actor without a username keeps ours; a split-domain address confirmed before stays while claimed.
    address = webfinger_address(document)
    kept = address if address is not None and address == (actor.username, actor.domain) else None
    fields = actor_fields(document, username=actor.username, address=kept)
    async with context.writing() as session:
        await upsert_actor(session, fields)
    context.forget_key(actor.public_key_id)
