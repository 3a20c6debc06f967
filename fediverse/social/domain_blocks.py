"""A local account blocks a whole domain for itself (Mastodon's user domain block; the instance-wide
block is the admin's ``DomainBlock``). Call inside a write transaction.

As in Mastodon, the account's followers on that domain are removed (a ``Reject{Follow}`` tells their
server) and pending requests from there are rejected, so followers-only posts stop going there; the
account's own follows of people there stay. What the block hides from timelines and notifications is
``fediverse.core.blocking``'s rule.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.errors import BadRequest
from fediverse.core.urls import Urls
from fediverse.social.follows import remove_follower
from storage.models import Account, AccountDomainBlock, Actor, Follow


async def block_domain(session: AsyncSession, urls: Urls, account: Account, actor: Actor, domain: str) -> None:
    """``account`` blocks ``domain`` (already normalised); repeating it changes nothing."""
    assert account.id is not None
    if domain == urls.host.lower():
        raise BadRequest("You cannot block your own server.")
    existing = await session.get(AccountDomainBlock, (account.id, domain))
    if existing is not None:
        return
    session.add(AccountDomainBlock(account_id=account.id, domain=domain))
    followers = await session.scalars(
        select(Actor)
        .join(Follow, col(Follow.follower_id) == col(Actor.id))
        .where(col(Follow.followee_id) == actor.id, col(Actor.domain) == domain)
    )
    for follower in list(followers):
        await remove_follower(session, urls, actor, follower)


async def unblock_domain(session: AsyncSession, account: Account, domain: str) -> None:
    await session.execute(
        delete(AccountDomainBlock).where(
            col(AccountDomainBlock.account_id) == account.id, col(AccountDomainBlock.domain) == domain
        )
    )
