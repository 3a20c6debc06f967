"""Answers to our users' replies, likes and boosts that waited for a remote author's approval (GoToSocial's
interaction controls, decision 0063). Call inside a write transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from activitypub.vocab import get_str, with_context
from fediverse.core import interaction_policy as rule
from fediverse.core.urls import Urls
from fediverse.federation.activities import like_activity, new_activity_id
from fediverse.federation.interaction_policies import AUTHORIZATION_PATHS, AUTHORIZATION_PROPERTIES, approval_terms
from fediverse.federation.outbox import inbox_of, queue_activity
from fediverse.social.interactions import announce_document, boost_inboxes
from fediverse.social.posts import send_approved_reply
from storage.models import Actor, Announce, Approval, Follow, FollowState, Like, Mention, Post


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


async def accept_if_awaited(
    session: AsyncSession,
    urls: Urls,
    target: Post,
    interacter: Actor,
    kind: str,
    row_id: int,
    interaction: Mapping[str, Any],
) -> None:
    """Answer a remote reply or like of one of our posts with an ``Accept`` when its server waits for one.

    Our policies approve automatically everyone who may see a post (``rule.local_policy``), but for a
    followers-only post that rests on the followers collection, which only we can check: GoToSocial then
    holds the interaction until the author's server accepts it ("validating presence in a collection").
    The Accept names the interaction (``object``), the post (``target``) and an authorization we serve
    (``result``), as GoToSocial's documentation asks. Interactions that already carry an approval are not
    answered."""
    if not target.is_local or any(interaction.get(name) for name in ("approvedBy", AUTHORIZATION_PROPERTIES[kind])):
        return
    follows = await session.scalar(
        select(col(Follow.id)).where(
            col(Follow.follower_id) == interacter.id,
            col(Follow.followee_id) == target.author_id,
            col(Follow.state) == FollowState.ACCEPTED,
        )
    )
    mentioned = await session.scalar(
        select(col(Mention.post_id)).where(col(Mention.post_id) == target.id, col(Mention.actor_id) == interacter.id)
    )
    relation = rule.Relation(
        interacter.ap_id, collections=frozenset({rule.FOLLOWERS} if follows else ()), mentioned=mentioned is not None
    )
    if not rule.decide(rule.local_policy(target.visibility), kind, relation).needs_accept:
        return
    author = await session.get(Actor, target.author_id)
    interaction_id = get_str(interaction, "id")
    if author is None or interaction_id is None:
        return
    accept = {
        "id": new_activity_id(urls, author.username),
        "type": "Accept",
        "actor": author.ap_id,
        "to": [interacter.ap_id],
        "object": interaction_id,
        "target": target.ap_id,
        "result": urls.authorization_id(author.username, AUTHORIZATION_PATHS[kind], row_id),
    }
    await queue_activity(session, author, with_context(accept), [inbox_of(interacter)], local_base_url=urls.base_url)
