"""CSV imports (decision 0060): an uploaded file becomes an ``AccountJob`` and one ``ImportRow`` per line, in one
transaction; the worker then works through the rows a step at a time.

A step takes up to ``STEP_ROWS`` queued rows, resolves what they name first (accounts through WebFinger and
their actor documents, bookmarked posts from their servers; a few at once, outside any transaction), then
applies them in one write transaction with a savepoint per row, marking each row imported or skipped with a
reason in that same transaction. So a crash between steps repeats no row, and a row that cannot be used
never stops the others.

Re-running an import (the same file again, or a crashed one carried on) changes nothing that is already so:
a follow, block, mute, domain block or bookmark that exists is counted as imported without sending anything.
Accounts already known here are used as stored, without asking their server again.

``overwrite`` (Mastodon's mode): before the rows, whatever of that type the account has and the file does
not name is removed (unfollowed, unblocked, unmuted, unbookmarked), ``REMOVAL_STEP`` per transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from activitypub.errors import (
    ActivityPubError,
    FetchError,
    GoneError,
    InvalidDocumentError,
    UnsafeAddressError,
    WebFingerError,
)
from fediverse.core.errors import NotFound, ReverieError
from fediverse.core.visibility import can_see
from fediverse.portability.csv_formats import ParsedRow, normalize_domain, parse_import
from fediverse.services import Services
from fediverse.social import blocks, follows
from storage.db import Database
from storage.models import (
    Account,
    AccountDomainBlock,
    AccountJob,
    AccountJobKind,
    Actor,
    Block,
    Bookmark,
    Follow,
    ImportRow,
    ImportRowState,
    ImportType,
    JobState,
    Mute,
    Post,
)
from storage.types import utcnow

log = logging.getLogger(__name__)

#: Rows per step: resolved together, then applied in one transaction (a savepoint each).
STEP_ROWS = 25
#: How many remote look-ups of one step run at once.
RESOLVE_CONCURRENCY = 8
#: Removals of an overwrite per transaction.
REMOVAL_STEP = 100
MAX_REASON = 500


async def create_import(
    db: Database, username: str, kind: ImportType, data: bytes, *, filename: str | None = None, overwrite: bool = False
) -> AccountJob:
    """Parse ``data`` (Mastodon's CSV of ``kind``) and store the job and its rows; lines that cannot be used
    are stored already skipped, with the reason. ``BadRequest`` when the file is not such a CSV at all."""
    rows = await asyncio.to_thread(parse_import, kind, data)
    async with db.transaction() as session:
        account = await session.scalar(select(Account).where(col(Account.username) == username))
        if account is None or account.disabled_at is not None:
            raise NotFound(f"No local account named {username!r}.")
        skipped = sum(row.problem is not None for row in rows)
        job = AccountJob(
            account_id=account.id or 0,
            kind=AccountJobKind.IMPORT,
            import_type=kind,
            overwrite=overwrite,
            prepared=not overwrite,
            filename=(filename or f"{kind.value}.csv")[:255],
            total_items=len(rows),
            processed_items=skipped,
            skipped_items=skipped,
        )
        session.add(job)
        await session.flush()
        if rows:
            await session.execute(insert(ImportRow), [_row_values(job.id or 0, row) for row in rows])
    return job


def _row_values(job_id: int, row: ParsedRow) -> dict[str, Any]:
    state = ImportRowState.SKIPPED if row.problem else ImportRowState.QUEUED
    return {"job_id": job_id, "line": row.line, "data": row.data, "state": state, "reason": row.problem}


@dataclass
class _Target:
    """What a row names, once resolved: an actor, a post or a domain; else why it was skipped."""

    row: ImportRow
    actor: Actor | None = None
    post: Post | None = None
    domain: str | None = None
    problem: str | None = None


async def run_import_step(services: Services, job_id: int) -> int:
    """One step of an import: the overwrite's removals first (when asked and not yet done), else up to
    ``STEP_ROWS`` rows. Returns how many rows (or removals) it handled; 0 when the job is finished."""
    async with services.db.session() as session:
        job = await session.get(AccountJob, job_id)
        if job is None or job.state != JobState.QUEUED:
            return 0
        owner = await session.execute(
            select(Account, Actor)
            .join(Actor, col(Actor.id) == col(Account.actor_id))
            .where(col(Account.id) == job.account_id)
        )
        found = owner.first()
    if found is None or found[0].disabled_at is not None:
        await finish_job(services.db, job_id, failed="The account was suspended or deleted before the import ended.")
        return 0
    account, me = found
    kind = ImportType(job.import_type or "")
    if not job.prepared:
        removed = await _remove_what_the_file_lacks(services, job, account, me, kind)
        if removed:
            return removed
        async with services.db.transaction() as session:
            await session.execute(update(AccountJob).where(col(AccountJob.id) == job_id).values(prepared=True))
    async with services.db.session() as session:
        rows = list(
            await session.scalars(
                select(ImportRow)
                .where(col(ImportRow.job_id) == job_id, col(ImportRow.state) == ImportRowState.QUEUED)
                .order_by(col(ImportRow.id))
                .limit(STEP_ROWS)
            )
        )
    if not rows:
        await finish_job(services.db, job_id)
        return 0
    limit = asyncio.Semaphore(RESOLVE_CONCURRENCY)

    async def resolve(row: ImportRow) -> _Target:
        async with limit:
            return await _resolve(services, kind, row)

    targets = await asyncio.gather(*(resolve(row) for row in rows))
    await _apply(services, job_id, account, me, kind, targets)
    services.wake_worker("deliveries")
    return len(rows)


async def finish_job(db: Database, job_id: int, *, failed: str | None = None) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(AccountJob)
            .where(col(AccountJob.id) == job_id)
            .values(
                state=JobState.FAILED if failed else JobState.SUCCEEDED,
                error=failed,
                finished_at=utcnow(),
                locked_until=None,
            )
        )


# Resolving what a row names (network, outside transactions).


async def _resolve(services: Services, kind: ImportType, row: ImportRow) -> _Target:
    data = row.data
    try:
        if kind == ImportType.DOMAIN_BLOCKS:
            domain, problem = normalize_domain(str(data.get("domain", "")))
            return _Target(row, domain=domain, problem=problem)
        if kind == ImportType.BOOKMARKS:
            return _Target(row, post=await _resolve_post(services, str(data.get("uri", ""))))
        return _Target(row, actor=await resolve_account(services, str(data.get("acct", ""))))
    except (ReverieError, ActivityPubError) as error:
        return _Target(row, problem=describe_failure(error))
    except Exception as error:  # a bug must cost one row, not the import
        log.exception("import row %s of job %s could not be resolved", row.id, row.job_id)
        return _Target(row, problem=f"unexpected error: {type(error).__name__}")


async def resolve_account(services: Services, acct: str) -> Actor:
    """The account ``user@server`` names: this server's own, one already known here (no request), or one
    found through WebFinger and its actor document."""
    username, _, host = acct.strip().lstrip("@").partition("@")
    if not username or not host:
        raise NotFound("not an account address (user@server)")
    async with services.db.session() as session:
        known = await session.scalar(
            select(Actor)
            .where(
                func.lower(col(Actor.username)) == username.lower(),
                func.lower(col(Actor.domain)) == host.lower(),
                col(Actor.type) != "Application",
            )
            .order_by(col(Actor.is_local).desc(), col(Actor.id))
            .limit(1)
        )
    if known is not None and known.is_local:
        local = await _local_account(services, known)
        if local is None:
            raise NotFound("that account is suspended or deleted")
        return known
    if host.lower() == services.urls.host.lower():
        raise NotFound(f"there is no account named {username} here")
    if known is not None and known.gone_at is None:
        return known
    return await services.resolver.handle(f"{username}@{host}")


async def _local_account(services: Services, actor: Actor) -> Account | None:
    async with services.db.session() as session:
        account = await session.scalar(select(Account).where(col(Account.actor_id) == actor.id))
    return account if account is not None and account.disabled_at is None else None


async def _resolve_post(services: Services, uri: str) -> Post:
    async with services.db.session() as session:
        post = await session.scalar(select(Post).where((col(Post.ap_id) == uri) | (col(Post.url) == uri)).limit(1))
    if post is None and not services.urls.is_local(uri):
        post = await services.resolver.note(uri)
    if post is None or post.deleted_at is not None:
        raise NotFound("no such post (deleted, or never there)")
    return post


def describe_failure(error: Exception) -> str:
    """Why a row was skipped, in words a person can act on."""
    if isinstance(error, GoneError):
        reason = "the account or post was deleted on its server"
    elif isinstance(error, UnsafeAddressError):
        reason = "its server's address is not one we may contact"
    elif isinstance(error, WebFingerError):
        reason = f"its server does not know this account ({error})"
    elif isinstance(error, FetchError):
        reason = f"its server could not be reached or refused: {error}"
    elif isinstance(error, InvalidDocumentError):
        reason = f"its server's answer is not usable: {error}"
    elif isinstance(error, NotFound) and str(error) == NotFound.__doc__:
        reason = "not found"
    else:
        reason = str(error) or type(error).__name__
    return reason[:MAX_REASON]


# Applying one step (one write transaction, a savepoint per row).


async def _apply(
    services: Services, job_id: int, account: Account, me: Actor, kind: ImportType, targets: Sequence[_Target]
) -> None:
    imported = skipped = 0
    async with services.db.transaction() as session:
        job = await session.get(AccountJob, job_id)
        if job is None or job.state != JobState.QUEUED:
            return
        me_here = await session.get(Actor, me.id)
        assert me_here is not None
        for target in targets:
            row = await session.get(ImportRow, target.row.id)
            if row is None or row.state != ImportRowState.QUEUED:
                continue  # another worker did it (a lapsed lease)
            problem = target.problem
            if problem is None:
                try:
                    async with session.begin_nested():
                        await _apply_one(session, services, account, me_here, kind, target)
                except (ReverieError, ActivityPubError) as error:
                    problem = describe_failure(error)
            row.state = ImportRowState.SKIPPED if problem else ImportRowState.IMPORTED
            row.reason = problem
            skipped += problem is not None
            imported += problem is None
        job.processed_items += imported + skipped
        job.imported_items += imported
        job.skipped_items += skipped


async def _apply_one(
    session: AsyncSession, services: Services, account: Account, me: Actor, kind: ImportType, target: _Target
) -> None:
    data = target.row.data
    if kind == ImportType.DOMAIN_BLOCKS:
        assert target.domain is not None
        if target.domain == services.urls.host.split(":")[0].lower():
            raise NotFound("that is this server")
        if await session.get(AccountDomainBlock, (account.id, target.domain)) is None:
            session.add(AccountDomainBlock(account_id=account.id or 0, domain=target.domain))
        return
    if kind == ImportType.BOOKMARKS:
        assert target.post is not None
        post = await session.get(Post, target.post.id)
        if post is None or not await can_see(session, post, me.id):
            raise NotFound("no such post, or not one you may see")
        exists = await session.scalar(
            select(col(Bookmark.id)).where(col(Bookmark.account_id) == account.id, col(Bookmark.post_id) == post.id)
        )
        if exists is None:
            session.add(Bookmark(account_id=account.id or 0, post_id=post.id))
        return
    assert target.actor is not None
    other = await session.get(Actor, target.actor.id)
    if other is None:
        raise NotFound("that account is no longer known here")
    if kind == ImportType.FOLLOWING:
        follow = await follows.find_follow(session, me, other)
        if follow is None:
            follow = await follows.request_follow(session, services.urls, me, other)
        follow.show_boosts = data.get("show_boosts") is not False
        follow.notify = data.get("notify") is True
        follow.languages = data.get("languages") or None
    elif kind == ImportType.BLOCKS:
        await blocks.block_account(session, services.urls, me, other)
    elif kind == ImportType.MUTES:
        hide = data.get("hide_notifications")
        await blocks.mute_account(session, me, other, hide_notifications=hide is not False)


# Overwrite: what the account has and the file does not name goes first.


async def _remove_what_the_file_lacks(
    services: Services, job: AccountJob, account: Account, me: Actor, kind: ImportType
) -> int:
    """Up to ``REMOVAL_STEP`` removals in one transaction; the number done (0: none were left)."""
    async with services.db.session() as session:
        named = {
            _key(kind, row.data)
            for row in await session.scalars(select(ImportRow).where(col(ImportRow.job_id) == job.id))
        }
    async with services.db.transaction() as session:
        me_here = await session.get(Actor, me.id)
        assert me_here is not None
        removed = await _REMOVERS[kind](session, services, account, me_here, named)
    if removed:
        services.wake_worker("deliveries")
    return removed


def _key(kind: ImportType, data: dict[str, Any]) -> str:
    if kind == ImportType.DOMAIN_BLOCKS:
        return normalize_domain(str(data.get("domain", "")))[0] or ""
    if kind == ImportType.BOOKMARKS:
        return str(data.get("uri", ""))
    return str(data.get("acct", "")).lower()


def _acct(actor: Actor) -> str:
    return f"{actor.username}@{actor.domain}".lower()


async def _remove_follows(
    session: AsyncSession, services: Services, _account: Account, me: Actor, named: set[str]
) -> int:
    followees = await session.scalars(
        select(Actor).join(Follow, col(Follow.followee_id) == col(Actor.id)).where(col(Follow.follower_id) == me.id)
    )
    gone = [actor for actor in followees if _acct(actor) not in named][:REMOVAL_STEP]
    for actor in gone:
        await follows.cancel_follow(session, services.urls, me, actor)
    return len(gone)


async def _remove_blocks(
    session: AsyncSession, services: Services, _account: Account, me: Actor, named: set[str]
) -> int:
    blocked = await session.scalars(
        select(Actor).join(Block, col(Block.blocked_id) == col(Actor.id)).where(col(Block.blocker_id) == me.id)
    )
    gone = [actor for actor in blocked if _acct(actor) not in named][:REMOVAL_STEP]
    for actor in gone:
        await blocks.unblock_account(session, services.urls, me, actor)
    return len(gone)


async def _remove_mutes(
    session: AsyncSession, _services: Services, _account: Account, me: Actor, named: set[str]
) -> int:
    muted = await session.scalars(
        select(Actor).join(Mute, col(Mute.muted_id) == col(Actor.id)).where(col(Mute.muter_id) == me.id)
    )
    gone = [actor for actor in muted if _acct(actor) not in named][:REMOVAL_STEP]
    for actor in gone:
        await blocks.unmute_account(session, me, actor)
    return len(gone)


async def _remove_domain_blocks(
    session: AsyncSession, _services: Services, account: Account, _me: Actor, named: set[str]
) -> int:
    rows = await session.scalars(select(AccountDomainBlock).where(col(AccountDomainBlock.account_id) == account.id))
    gone = [row for row in rows if row.domain not in named][:REMOVAL_STEP]
    for row in gone:
        await session.delete(row)
    return len(gone)


async def _remove_bookmarks(
    session: AsyncSession, _services: Services, account: Account, _me: Actor, named: set[str]
) -> int:
    rows = (
        await session.execute(
            select(Bookmark, col(Post.ap_id), col(Post.url))
            .join(Post, col(Post.id) == col(Bookmark.post_id))
            .where(col(Bookmark.account_id) == account.id)
        )
    ).all()
    gone = [bookmark for bookmark, ap_id, url in rows if ap_id not in named and url not in named][:REMOVAL_STEP]
    for bookmark in gone:
        await session.delete(bookmark)
    return len(gone)


_REMOVERS = {
    ImportType.FOLLOWING: _remove_follows,
    ImportType.BLOCKS: _remove_blocks,
    ImportType.MUTES: _remove_mutes,
    ImportType.DOMAIN_BLOCKS: _remove_domain_blocks,
    ImportType.BOOKMARKS: _remove_bookmarks,
}
