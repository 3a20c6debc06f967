"""Exports in Mastodon's CSV formats (``csv_formats``): what one local account follows, who follows it, whom
it blocks and mutes, the servers it hides, its bookmarks. Each is one read of the database."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from fediverse.core.errors import BadRequest, NotFound
from fediverse.portability.csv_formats import FOLLOWING_HEADER, MUTES_HEADER, write_csv
from storage.db import Database
from storage.models import Account, AccountDomainBlock, Actor, Block, Bookmark, Follow, FollowState, Mute, Post


class ExportType(StrEnum):
    FOLLOWING = "following"
    FOLLOWERS = "followers"
    BLOCKS = "blocks"
    MUTES = "mutes"
    DOMAIN_BLOCKS = "domain-blocks"
    BOOKMARKS = "bookmarks"


#: The file names Mastodon gives its exports (its import guesses the type from them, too).
FILE_NAMES = {
    ExportType.FOLLOWING: "following_accounts.csv",
    ExportType.FOLLOWERS: "followers_accounts.csv",
    ExportType.BLOCKS: "blocked_accounts.csv",
    ExportType.MUTES: "muted_accounts.csv",
    ExportType.DOMAIN_BLOCKS: "blocked_domains.csv",
    ExportType.BOOKMARKS: "bookmarks.csv",
}


def export_type(value: str) -> ExportType:
    try:
        return ExportType(value.strip().lower().replace("_", "-"))
    except ValueError:
        kinds = ", ".join(kind.value for kind in ExportType)
        raise BadRequest(f"Unknown export {value!r}: one of {kinds}.") from None


def address(username: str, domain: str) -> str:
    """An account as the CSV files name it: ``user@server`` (local accounts with this server's name)."""
    return f"{username}@{domain}"


async def export_csv(db: Database, username: str, kind: ExportType) -> str:
    """The CSV text of one export of the local account ``username``."""
    return await db.read(lambda session: _export(session, username, kind))


def _export(session: Session, username: str, kind: ExportType) -> str:
    row = session.execute(
        select(col(Account.id), col(Account.actor_id), col(Account.deleted_at)).where(col(Account.username) == username)
    ).first()
    if row is None or row[2] is not None:
        raise NotFound(f"No local account named {username!r}.")
    account_id, actor_id, _ = row
    assert account_id is not None
    return _WRITERS[kind](session, account_id, actor_id)


def _following(session: Session, _account_id: int, actor_id: int) -> str:
    rows = session.execute(
        select(
            col(Actor.username), col(Actor.domain), col(Follow.show_boosts), col(Follow.notify), col(Follow.languages)
        )
        .join(Actor, col(Actor.id) == col(Follow.followee_id))
        .where(col(Follow.follower_id) == actor_id)
        .order_by(col(Follow.id).desc())
    )
    return write_csv(
        FOLLOWING_HEADER,
        ([address(name, domain), boosts, notify, languages] for name, domain, boosts, notify, languages in rows),
    )


def _followers(session: Session, _account_id: int, actor_id: int) -> str:
    rows = session.execute(
        select(col(Actor.username), col(Actor.domain))
        .join(Follow, col(Follow.follower_id) == col(Actor.id))
        .where(col(Follow.followee_id) == actor_id, col(Follow.state) == FollowState.ACCEPTED)
        .order_by(col(Follow.id).desc())
    )
    return write_csv(None, ([address(name, domain)] for name, domain in rows))


def _blocks(session: Session, _account_id: int, actor_id: int) -> str:
    rows = session.execute(
        select(col(Actor.username), col(Actor.domain))
        .join(Block, col(Block.blocked_id) == col(Actor.id))
        .where(col(Block.blocker_id) == actor_id)
        .order_by(col(Block.id).desc())
    )
    return write_csv(None, ([address(name, domain)] for name, domain in rows))


def _mutes(session: Session, _account_id: int, actor_id: int) -> str:
    rows = session.execute(
        select(col(Actor.username), col(Actor.domain), col(Mute.hide_notifications))
        .join(Mute, col(Mute.muted_id) == col(Actor.id))
        .where(col(Mute.muter_id) == actor_id)
        .order_by(col(Mute.id).desc())
    )
    return write_csv(MUTES_HEADER, ([address(name, domain), hides] for name, domain, hides in rows))


def _domain_blocks(session: Session, account_id: int, _actor_id: int) -> str:
    domains = session.scalars(
        select(col(AccountDomainBlock.domain))
        .where(col(AccountDomainBlock.account_id) == account_id)
        .order_by(col(AccountDomainBlock.domain))
    )
    return write_csv(None, ([domain] for domain in domains))


def _bookmarks(session: Session, account_id: int, _actor_id: int) -> str:
    uris = session.scalars(
        select(col(Post.ap_id))
        .join(Bookmark, col(Bookmark.post_id) == col(Post.id))
        .where(col(Bookmark.account_id) == account_id, col(Post.deleted_at).is_(None))
        .order_by(col(Bookmark.id).desc())
    )
    return write_csv(None, ([uri] for uri in uris))


_WRITERS: dict[ExportType, Callable[[Session, int, int], str]] = {
    ExportType.FOLLOWING: _following,
    ExportType.FOLLOWERS: _followers,
    ExportType.BLOCKS: _blocks,
    ExportType.MUTES: _mutes,
    ExportType.DOMAIN_BLOCKS: _domain_blocks,
    ExportType.BOOKMARKS: _bookmarks,
}


def export_counts(session: Session, account_id: int, actor_id: int) -> dict[ExportType, int]:
    """How many lines each export of an account has (for the settings page)."""

    def count(statement: Select[int]) -> int:
        return int(session.scalar(statement) or 0)

    return {
        ExportType.FOLLOWING: count(
            select(func.count()).select_from(Follow).where(col(Follow.follower_id) == actor_id)
        ),
        ExportType.FOLLOWERS: count(
            select(func.count())
            .select_from(Follow)
            .where(col(Follow.followee_id) == actor_id, col(Follow.state) == FollowState.ACCEPTED)
        ),
        ExportType.BLOCKS: count(select(func.count()).select_from(Block).where(col(Block.blocker_id) == actor_id)),
        ExportType.MUTES: count(select(func.count()).select_from(Mute).where(col(Mute.muter_id) == actor_id)),
        ExportType.DOMAIN_BLOCKS: count(
            select(func.count()).select_from(AccountDomainBlock).where(col(AccountDomainBlock.account_id) == account_id)
        ),
        ExportType.BOOKMARKS: count(
            select(func.count())
            .select_from(Bookmark)
            .join(Post, col(Post.id) == col(Bookmark.post_id))
            .where(col(Bookmark.account_id) == account_id, col(Post.deleted_at).is_(None))
        ),
    }
