"""Delete (of notes and of whole accounts), Block and Flag from remote actors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import col

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import get_ids, get_str
from fediverse.federation.actors_in import host_of
from fediverse.federation.inbox.context import IngestContext, local_actor, object_id, post_by_id, reload
from fediverse.federation.sanitize import html_to_text
from fediverse.social.removals import purge_actor, record_block, record_report, tombstone_post
from storage.models import Actor, DeletedObject, Report


async def handle_delete(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    target = object_id(activity)
    if target == actor.ap_id:
        # Many posts may go: in bounded steps, each its own transaction, never inside a batch's.
        context.alone_only("purging an account")
        assert actor.id is not None
        context.forget_key(actor.public_key_id)
        await purge_actor(context.db, actor.id)
        context.forget_key(actor.public_key_id)  # again: a request may have cached it before the key row went
        return
    async with context.writing() as session:
        me = await reload(session, actor)
        post = await post_by_id(session, target)
        if post is not None:
            if post.author_id != me.id or post.is_local:
                raise InvalidDocumentError("only its author can delete a note")
            await tombstone_post(session, post)
            return
        if host_of(target) == host_of(actor.ap_id) and await session.get(DeletedObject, target) is None:
            # The Delete arrived before the Create: remember it so the Create is dropped (Mastodon keeps 6 h).
            # It counts only if the note turns out to be this actor's (``resolve.deleted_by_author``).
            session.add(DeletedObject(ap_id=target, actor_ap_id=actor.ap_id))
            context.deleted_in_advance(target, actor.ap_id)


async def handle_block(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    async with context.writing() as session:
        blocked = await local_actor(session, object_id(activity))
        if blocked is not None:
            await record_block(session, await reload(session, actor), blocked, str(activity["id"]))


async def handle_flag(context: IngestContext, actor: Actor, activity: dict[str, Any]) -> None:
    """A report about local accounts or posts (sent by the reporting server's instance actor)."""
    targets = get_ids(activity.get("object"))
    local_targets = [target for target in targets if context.urls.is_local(target)]
    if not local_targets:
        return
    async with context.writing() as session:
        if await session.scalar(select(col(Report.id)).where(col(Report.ap_id) == activity["id"])) is not None:
            return
        reported = None
        for target in local_targets:
            reported = await local_actor(session, target)
            if reported is not None:
                break
        if reported is None:
            post = await post_by_id(session, local_targets[0])
            reported = await session.get(Actor, post.author_id) if post else None
        await record_report(
            session,
            activity_id=str(activity["id"]),
            reporter=await reload(session, actor),
            target=reported,
            post_ids=[target for target in local_targets if reported is None or target != reported.ap_id],
            comment=html_to_text(get_str(activity, "content") or ""),
        )
