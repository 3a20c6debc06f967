"""Answers to our users' replies, likes and boosts that waited for a remote author's approval (GoToSocial's
interaction controls, decision 0063). Call inside a write transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core import interaction_policy as rule
from fediverse.core.urls import Urls
from fediverse.federation.activities import like_activity
from fediverse.federation.interaction_policies import approval_terms
from fediverse.federation.outbox import queue_activity
from fediverse.social.interactions import announce_document, boost_inboxes
from fediverse.social.posts import send_approved_reply
from storage.models import Actor, Announce, Approval, Like, Post


async def receive_interaction_answer(
    session: AsyncSession, urls: Urls, answerer: Actor, interaction_id: str, *, approved_by: str | None
) -> bool:
    """The author of a post answered a local account's reply, like or boost that waited for their approval
    (GoToSocial's flow, decision 0063): ``approved_by`` is the approval's URI for an ``Accept``, ``None`` for a
    ``Reject``. An approved boost or reply goes out again, now to everyone, carrying ``approvedBy``; a rejected
    one stays marked and goes no further. Only the author of the post interacted with may answer. True when
    ``interaction_id`` was one of ours."""
    like = await session.scalar(select(Like).where(col(Like.ap_id) == interaction_id))
    boost = None if like else await session.scalar(select(Announce).where(col(Announce.ap_id) == interaction_id))
    reply = None
    if like is None and boost is None:
        reply = await session.scalar(select(Post).where(col(Post.ap_id) == interaction_id, col(Post.is_local)))
    row: Like | Announce | Post | None = like or boost or reply
    if row is None:
        return False
    target_id = row.in_reply_to_id if isinstance(row, Post) else row.post_id
    target = await session.get(Post, target_id) if target_id is not None else None
    if target is None or target.author_id != answerer.id:
        return True  # not theirs to answer
    actor_id = row.author_id if isinstance(row, Post) else row.actor_id
    actor = await session.get(Actor, actor_id)
    if actor is None or not actor.is_local:
        return True
    was_pending = row.approval == Approval.PENDING
    if approved_by is None:
        row.approval = Approval.REJECTED
        return True
    row.approval = None
    row.approved_by = approved_by
    if not was_pending:
        return True  # approved already, or never waiting (an Accept GoToSocial may send anyway): nothing to resend
    if isinstance(row, Announce):
        activity = announce_document(
            urls, actor, answerer, target, row.ap_id or "", row.published, approved_by=approved_by
        )
        inboxes = await boost_inboxes(session, actor, answerer, row)
        await queue_activity(session, actor, activity, inboxes, local_base_url=urls.base_url, again=True)
    elif isinstance(row, Post):
        await send_approved_reply(session, urls, actor, row)
    else:  # a Like went to the author alone: only the copy served at its id changes
        liked = {**like_activity(row.ap_id or "", actor.ap_id, target.ap_id), **approval_terms(rule.LIKE, approved_by)}
        await queue_activity(session, actor, liked, [], local_base_url=urls.base_url, again=True)
    return True
