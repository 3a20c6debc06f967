"""Local accounts and the instance actor: creation, lookup, username rules, password changes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from activitypub.keys import KeyPairPem, generate_rsa_key_pair
from fediverse.core.errors import BadRequest, Conflict, InvalidUsername, NotFound
from fediverse.core.invites import redeem_invite
from fediverse.core.passwords import hash_password, password_problem
from fediverse.core.urls import Urls
from storage.cache import ACCOUNTS, bump
from storage.db import Database
from storage.models import Account, Actor, Keypair, WebSession
from storage.types import utcnow

USERNAME_PATTERN = re.compile(r"[a-z0-9_]{1,30}")

_new_key_pair: Callable[[], KeyPairPem] = generate_rsa_key_pair


def use_key_pairs(source: Callable[[], KeyPairPem]) -> Callable[[], KeyPairPem]:
    """Take new local actors' key pairs from ``source`` from now on; returns the source it replaces.

    Only the test suite calls this, to hand out pre-made keys: a fresh RSA-2048 key costs 50-100 ms.
    """
    global _new_key_pair
    previous, _new_key_pair = _new_key_pair, source
    return previous


def validate_username(username: str) -> str:
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidUsername()
    return username


async def create_account(
    db: Database,
    urls: Urls,
    username: str,
    *,
    password: str | None = None,
    is_admin: bool = False,
    display_name: str = "",
    invite: str | None = None,
) -> Account:
    """Create a local user: an ``Actor``, its ``Account`` and an RSA-2048 key pair.

    With ``invite``, one use of that invite is counted in the same transaction (``Forbidden`` when it
    has none left), so an invite never admits more accounts than it allows.
    """
    validate_username(username)
    if password is not None and (problem := password_problem(password)):
        raise BadRequest(problem)
    keys = await asyncio.to_thread(_new_key_pair)
    password_hash = await hash_password(password) if password is not None else None
    async with db.transaction() as session:
        if await session.scalar(select(col(Account.id)).where(col(Account.username) == username)) is not None:
            raise Conflict(f"The username {username!r} is taken.")
        if invite is not None:
            await redeem_invite(session, invite)
        now = utcnow()
        actor = Actor(
            ap_id=urls.actor_id(username),
            type="Person",
            username=username,
            domain=urls.host,
            is_local=True,
            display_name=display_name,
            url=urls.profile_url(username),
            inbox_url=urls.inbox_url(username),
            shared_inbox_url=urls.shared_inbox_url(),
            outbox_url=urls.outbox_url(username),
            followers_url=urls.followers_url(username),
            following_url=urls.following_url(username),
            public_key_id=urls.key_id(username),
            public_key_pem=keys.public_pem,
            discoverable=True,
            indexable=True,
            published=now,
        )
        session.add(actor)
        await session.flush()
        assert actor.id is not None
        account = Account(username=username, actor_id=actor.id, password_hash=password_hash, is_admin=is_admin)
        session.add(account)
        session.add(
            Keypair(
                actor_id=actor.id,
                key_id=urls.key_id(username),
                private_key_pem=keys.private_pem,
                public_key_pem=keys.public_pem,
            )
        )
        await bump(session, ACCOUNTS)
    return account


async def change_password(db: Database, username: str, password: str, *, keep_session: str | None = None) -> None:
    """Set a new password and sign out every browser of the account, except the session whose token
    hash is ``keep_session`` (the one that asked for the change): whoever knew the old password is out."""
    if problem := password_problem(password):
        raise BadRequest(problem)
    password_hash = await hash_password(password)
    async with db.transaction() as session:
        account = await session.scalar(select(Account).where(col(Account.username) == username))
        if account is None:
            raise NotFound(f"No account named {username!r}.")
        account.password_hash = password_hash
        sign_out = delete(WebSession).where(col(WebSession.account_id) == account.id)
        if keep_session is not None:
            sign_out = sign_out.where(WebSession.token_hash != keep_session)  # type: ignore[arg-type]
        await session.execute(sign_out)


async def ensure_instance_actor(db: Database, urls: Urls) -> Keypair:
    """The instance actor (an ``Application`` that signs server-level fetches), created on first use."""
    key_id = urls.instance_key_id()
    async with db.session() as session:
        found = await session.scalar(select(Keypair).where(col(Keypair.key_id) == key_id))
    if found is not None:
        return found
    keys = await asyncio.to_thread(_new_key_pair)
    async with db.transaction() as session:
        found = await session.scalar(select(Keypair).where(col(Keypair.key_id) == key_id))
        if found is not None:  # another process won the race
            return found
        actor_id = urls.instance_actor_id()
        actor = Actor(
            ap_id=actor_id,
            type="Application",
            username=urls.host,
            domain=urls.host,
            is_local=True,
            url=urls.absolute("/about"),
            inbox_url=f"{actor_id}/inbox",
            shared_inbox_url=urls.shared_inbox_url(),
            outbox_url=f"{actor_id}/outbox",
            public_key_id=key_id,
            public_key_pem=keys.public_pem,
            manually_approves_followers=True,
            published=utcnow(),
        )
        session.add(actor)
        await session.flush()
        assert actor.id is not None
        keypair = Keypair(
            actor_id=actor.id, key_id=key_id, private_key_pem=keys.private_pem, public_key_pem=keys.public_pem
        )
        session.add(keypair)
    return keypair


async def get_local_actor(session: AsyncSession, username: str) -> tuple[Account, Actor] | None:
    """A local account and its actor by username, or ``None``."""
    row = (
        await session.execute(
            select(Account, Actor)
            .join(Actor, col(Actor.id) == col(Account.actor_id))
            .where(col(Account.username) == username)
        )
    ).first()
    return (row[0], row[1]) if row else None


@dataclass(frozen=True)
class LocalName:
    """A local account as lookups by name need it (WebFinger, routing): kept in the process's cache."""

    username: str
    account_id: int
    actor_id: int
    disabled: bool


#: Built once (decision 0049): the columns a lookup by name keeps.
_LOCAL_NAME = select(col(Account.id), col(Account.actor_id), col(Account.disabled_at)).where(
    col(Account.username) == bindparam("username")
)


async def find_local_name(db: Database, username: str) -> LocalName | None:
    """The local account called ``username`` (already lower-cased), from this process's cache of
    accounts by name (``storage.cache``, name ``accounts``); ``None`` when there is none."""
    cache = db.stamps.cache("local accounts by name", (ACCOUNTS,), max_entries=10_000)

    def read(session: Session) -> LocalName | None:
        row = session.connection().execute(_LOCAL_NAME, {"username": username}).first()
        if row is None:
            return None
        account_id, actor_id, disabled_at = row
        assert account_id is not None
        return LocalName(username, account_id, actor_id, disabled_at is not None)

    async def load() -> LocalName | None:  # a miss: one unit of work (decision 0049)
        return await db.read(read)

    found = await cache.get(username, load)
    assert found is None or isinstance(found, LocalName)
    return found


@dataclass(frozen=True, slots=True)
class LocalActor:
    """A local account and the columns of its actor that its documents and pages use (no raw AS2)."""

    account_id: int
    username: str
    disabled_at: datetime | None
    avatar_media_id: int | None
    header_media_id: int | None
    id: int  # the actor's
    ap_id: str
    type: str
    display_name: str
    summary_html: str
    manually_approves_followers: bool
    discoverable: bool
    indexable: bool
    published: datetime | None
    created_at: datetime
    public_key_id: str | None
    public_key_pem: str | None
    posts_count: int  # public and unlisted posts not deleted (decision 0052)
    also_known_as: list[str] | None  # the account's aliases (decision 0061)
    moved_to_ap_id: str | None  # the account it moved to


#: Built once: a statement made per request costs more than running it (decision 0049).
_LOCAL_ACTOR = (
    select(
        col(Account.id),
        col(Account.username),
        col(Account.disabled_at),
        col(Account.avatar_media_id),
        col(Account.header_media_id),
        col(Actor.id),
        col(Actor.ap_id),
        col(Actor.type),
        col(Actor.display_name),
        col(Actor.summary_html),
        col(Actor.manually_approves_followers),
        col(Actor.discoverable),
        col(Actor.indexable),
        col(Actor.published),
        col(Actor.created_at),
        col(Actor.public_key_id),
        col(Actor.public_key_pem),
        col(Actor.posts_count),
        col(Actor.also_known_as),
        col(Actor.moved_to_ap_id),
    )
    .join(Actor, col(Actor.id) == col(Account.actor_id))
    .where(col(Account.username) == bindparam("username"))
)


def find_local_actor(session: Session, username: str) -> LocalActor | None:
    """A local account and its actor by username, or ``None`` (in a unit of work, one Core query)."""
    row = session.connection().execute(_LOCAL_ACTOR, {"username": username}).first()
    return LocalActor(*tuple(row)) if row is not None else None


async def any_account(session: AsyncSession) -> bool:
    """Whether a local account exists yet (before the first, the instance offers its setup page)."""
    return await session.scalar(select(col(Account.id)).limit(1)) is not None
