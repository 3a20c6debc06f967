"""Deleting and suspending local accounts (decision 0060).

Deleting happens in two parts:

1. At once, in one transaction: the account is marked deleted (and disabled, so it cannot sign in and its
   actor answers ``410`` with a ``Tombstone``), its password, browser sessions, app tokens and pending
   authorizations end, and ``Delete`` of the actor is queued to every server that knows it (its followers',
   its followees', and every inbox anything of its was delivered to; one shared inbox per server where the
   server has one). The purge is queued as an ``AccountJob``.
2. In the worker, the purge (``purge_account``), resumable: relations first (follows both ways, likes,
   boosts, blocks, mutes, bookmarks, notifications, ...), then the posts ``PURGE_STEP`` at a time (each
   step its own transaction, Mastodon's shape: tombstones remain so the ids answer 410 and are never
   recreated), then the activities it sent (no longer served, their waiting deliveries dropped; the
   ``Delete`` stays), then every picture the account owned, with its files, and the profile.

The ``Account`` row, the ``Actor`` row and the key pair stay: the username is reserved for good (nobody can
register it and take over the old address), and the key still signs the ``Delete`` deliveries and any
retry of them.

Suspending (an admin's) only disables the account: it cannot sign in, its sessions and tokens end, and it
is served as if gone (``410``) until unsuspended. Nothing is removed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.errors import Conflict, Forbidden, NotFound
from fediverse.core.media_files import forget_files, keys_of
from fediverse.core.passwords import verify_password
from fediverse.federation.activities import delete_actor_activity
from fediverse.federation.outbox import queue_activity
from fediverse.portability.archives import archives_folder
from fediverse.services import Services
from fediverse.social.filters import delete_all_filters
from fediverse.social.lists import delete_all_lists
from fediverse.social.removals import PURGE_STEP, forget_actor, tombstone_posts
from storage.cache import ACCOUNTS, POSTS, bump
from storage.db import Database
from storage.models import (
    Account,
    AccountDomainBlock,
    AccountJob,
    AccountJobKind,
    Actor,
    Bookmark,
    Delivery,
    Follow,
    GenerationJob,
    IdempotencyKey,
    ImportRow,
    JobEvent,
    JobState,
    Marker,
    Media,
    Mute,
    Notification,
    OAuthGrant,
    OAuthToken,
    OutboxActivity,
    Post,
    PostEdit,
    PostMedia,
    WebSession,
)
from storage.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deletion:
    """A deletion just made: the purge job, and how many inboxes the ``Delete`` goes to."""

    job_id: int
    inboxes: int


async def delete_own_account(services: Services, username: str, password: str) -> Deletion:
    """A signed-in person deletes their account, confirming with their password (``Forbidden`` when wrong)."""
    async with services.db.session() as session:
        account = await session.scalar(select(Account).where(col(Account.username) == username))
    if account is None or account.disabled_at is not None:
        raise NotFound(f"No local account named {username!r}.")
    if not await verify_password(account.password_hash, password):
        raise Forbidden("That password is not right; nothing was deleted.")
    return await delete_account(services, username)


async def delete_account(services: Services, username: str) -> Deletion:
    """Delete a local account (an admin's or the owner's choice): part 1 above; the purge is queued."""
    async with services.db.transaction() as session:
        found = (
            await session.execute(
                select(Account, Actor)
                .join(Actor, col(Actor.id) == col(Account.actor_id))
                .where(col(Account.username) == username)
            )
        ).first()
        if found is None:
            raise NotFound(f"No local account named {username!r}.")
        account, actor = found
        if account.deleted_at is not None:
            raise Conflict(f"@{username} is already deleted.")
        assert account.id is not None and actor.id is not None
        now = utcnow()
        account.deleted_at = now
        account.disabled_at = account.disabled_at or now
        account.password_hash = None
        actor.gone_at = now
        inboxes = await inboxes_that_know(session, actor.id)
        delete = delete_actor_activity(actor.ap_id)
        await queue_activity(session, actor, delete, inboxes, local_base_url=services.urls.base_url)
        await _end_sign_ins(session, account.id)
        job = AccountJob(account_id=account.id, kind=AccountJobKind.DELETION)
        session.add(job)
        await session.flush()
        await bump(session, ACCOUNTS, POSTS)
    services.wake_worker(None)
    log.info("account @%s deleted: Delete{Person} queued to %d inboxes", username, len(inboxes))
    return Deletion(job.id or 0, len(inboxes))


async def suspend_account(db: Database, username: str) -> None:
    """Disable an account: no sign-in, sessions and tokens ended, served as gone; nothing is removed."""
    async with db.transaction() as session:
        account = await _account(session, username)
        if account.deleted_at is not None:
            raise Conflict(f"@{username} is deleted.")
        assert account.id is not None
        account.disabled_at = account.disabled_at or utcnow()
        await _end_sign_ins(session, account.id)
        await bump(session, ACCOUNTS)


async def unsuspend_account(db: Database, username: str) -> None:
    async with db.transaction() as session:
        account = await _account(session, username)
        if account.deleted_at is not None:
            raise Conflict(f"@{username} is deleted; a deleted account cannot come back.")
        account.disabled_at = None
        await bump(session, ACCOUNTS)


async def _account(session: AsyncSession, username: str) -> Account:
    account = await session.scalar(select(Account).where(col(Account.username) == username))
    if account is None:
        raise NotFound(f"No local account named {username!r}.")
    return account


async def _end_sign_ins(session: AsyncSession, account_id: int) -> None:
    """Every browser session, app token and pending app authorization of the account ends."""
    for model in (WebSession, OAuthToken, OAuthGrant):
        await session.execute(delete(model).where(col(model.account_id) == account_id))


async def inboxes_that_know(session: AsyncSession, actor_id: int) -> list[str]:
    """Every inbox that knows the actor: its followers' and followees' (requests included), and every inbox
    anything it sent was delivered to. One shared inbox per server where that server has one."""
    inbox = func.coalesce(Actor.shared_inbox_url, Actor.inbox_url)
    related = or_(
        col(Actor.id).in_(select(col(Follow.follower_id)).where(col(Follow.followee_id) == actor_id)),
        col(Actor.id).in_(select(col(Follow.followee_id)).where(col(Follow.follower_id) == actor_id)),
    )
    candidates = set(
        await session.scalars(
            select(inbox).where(related, col(Actor.is_local).is_(False), col(Actor.gone_at).is_(None)).distinct()
        )
    )
    candidates.update(
        await session.scalars(
            select(col(Delivery.inbox_url))
            .join(OutboxActivity, col(OutboxActivity.id) == col(Delivery.activity_id))
            .where(col(OutboxActivity.actor_id) == actor_id)
            .distinct()
        )
    )
    shared: set[str] = {
        inbox
        for inbox in await session.scalars(
            select(col(Actor.shared_inbox_url)).where(col(Actor.shared_inbox_url).in_(list(candidates))).distinct()
        )
        if inbox
    }
    return one_per_server(candidates, shared)


def one_per_server(inboxes: Iterable[str], shared: set[str]) -> list[str]:
    """The inboxes to reach every server among ``inboxes``: a server's shared inbox(es) when any is known,
    else each personal inbox there."""
    by_host: dict[str, list[str]] = defaultdict(list)
    for inbox in inboxes:
        by_host[urlsplit(inbox).netloc.lower()].append(inbox)
    chosen: list[str] = []
    for host in sorted(by_host):
        found = sorted(by_host[host])
        chosen += [inbox for inbox in found if inbox in shared] or found
    return chosen


# Part 2: the purge, in the worker (or a terminal), resumable.


async def purge_account(services: Services, account_id: int, *, step: int = PURGE_STEP) -> int:
    """Remove what a deleted account left, in bounded transactions; the number of posts tombstoned.
    Running it again after an interruption carries on with what still stands."""
    db = services.db
    async with db.transaction() as session:
        account = await session.get(Account, account_id)
        if account is None or account.deleted_at is None:
            raise Conflict("Only a deleted account is purged.")
        actor = await session.get(Actor, account.actor_id)
        assert actor is not None and actor.id is not None
        actor_id = actor.id
        await forget_actor(session, actor)  # follows both ways, likes, boosts, mentions, blocks
        actor.icon_url = actor.header_url = None
        for statement in (
            delete(Mute).where(or_(col(Mute.muter_id) == actor_id, col(Mute.muted_id) == actor_id)),
            delete(Notification).where(col(Notification.account_id) == account_id),
            delete(Bookmark).where(col(Bookmark.account_id) == account_id),
            delete(AccountDomainBlock).where(col(AccountDomainBlock.account_id) == account_id),
            delete(Marker).where(col(Marker.account_id) == account_id),
            delete(IdempotencyKey).where(col(IdempotencyKey.account_id) == account_id),
        ):
            await session.execute(statement)
        await session.run_sync(delete_all_lists, account_id)
        await session.run_sync(delete_all_filters, account_id)
        account.avatar_media_id = account.header_media_id = None
        await bump(session, ACCOUNTS)
    tombstoned = 0
    while True:
        async with db.transaction() as session:
            post_ids = list(
                await session.scalars(
                    select(col(Post.id))
                    .where(col(Post.author_id) == actor_id, col(Post.deleted_at).is_(None))
                    .order_by(col(Post.id))
                    .limit(step)
                )
            )
            if not post_ids:
                break
            media = list(
                await session.scalars(select(Media).join(PostMedia).where(col(PostMedia.post_id).in_(post_ids)))
            )
            keys = {key for item in media for key in keys_of(item)}
            await session.execute(delete(PostEdit).where(col(PostEdit.post_id).in_(post_ids)))
            await tombstone_posts(session, post_ids)
        await forget_files(db, services.media, keys)
        tombstoned += len(post_ids)
    await _forget_sent_activities(db, actor_id, step=step * 5)
    await _forget_owned_media(services, account_id)
    await _forget_other_jobs(services, account_id)
    return tombstoned


async def _forget_sent_activities(db: Database, actor_id: int, *, step: int) -> None:
    """The activities it sent (follows, likes, blocks…) stop being served, and those still waiting to be
    delivered are not sent; only the ``Delete`` of the actor stays, with its deliveries."""
    async with db.session() as session:
        actor_ap_id = await session.scalar(select(col(Actor.ap_id)).where(col(Actor.id) == actor_id))
    kept = col(OutboxActivity.ap_id) == f"{actor_ap_id}#delete"
    while True:
        async with db.transaction() as session:
            ids = list(
                await session.scalars(
                    select(col(OutboxActivity.id)).where(col(OutboxActivity.actor_id) == actor_id, ~kept).limit(step)
                )
            )
            if not ids:
                return
            await session.execute(delete(Delivery).where(col(Delivery.activity_id).in_(ids)))
            await session.execute(delete(OutboxActivity).where(col(OutboxActivity.id).in_(ids)))


async def _forget_owned_media(services: Services, account_id: int) -> None:
    """Drafts, avatar, header, and generation jobs with their events: rows, then files."""
    async with services.db.transaction() as session:
        media = list(await session.scalars(select(Media).where(col(Media.owner_account_id) == account_id)))
        keys = {key for item in media for key in keys_of(item)}
        if media:
            media_ids = [item.id for item in media]
            await session.execute(delete(PostMedia).where(col(PostMedia.media_id).in_(media_ids)))
            await session.execute(delete(Media).where(col(Media.id).in_(media_ids)))
        jobs = select(col(GenerationJob.id)).where(col(GenerationJob.account_id) == account_id)
        await session.execute(delete(Media).where(col(Media.job_id).in_(jobs)))
        await session.execute(delete(JobEvent).where(col(JobEvent.job_id).in_(jobs)))
        await session.execute(delete(GenerationJob).where(col(GenerationJob.account_id) == account_id))
    await forget_files(services.db, services.media, keys)


async def _forget_other_jobs(services: Services, account_id: int) -> None:
    """Its imports (with their rows) and archives (with their files); the deletion's own job stays."""
    async with services.db.transaction() as session:
        others = select(col(AccountJob.id)).where(
            col(AccountJob.account_id) == account_id, col(AccountJob.kind) != AccountJobKind.DELETION
        )
        archives = list(
            await session.scalars(
                select(col(AccountJob.filename)).where(
                    col(AccountJob.account_id) == account_id,
                    col(AccountJob.kind) == AccountJobKind.ARCHIVE,
                    col(AccountJob.state) == JobState.SUCCEEDED,
                )
            )
        )
        await session.execute(delete(ImportRow).where(col(ImportRow.job_id).in_(others)))
        await session.execute(
            delete(AccountJob).where(
                col(AccountJob.account_id) == account_id, col(AccountJob.kind) != AccountJobKind.DELETION
            )
        )
    folder = archives_folder(services.settings.data_dir)
    for name in archives:
        if name:
            (folder / name).unlink(missing_ok=True)
