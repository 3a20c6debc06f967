"""Lists: an account's named groups of accounts it follows, each with its own timeline (Mastodon's lists;
docs/client-api.md). Private to the account, never federated.

A member counts only while the owner follows it: adding someone not followed is refused, as in Mastodon,
and an unfollowed member drops out of the list's members and timeline without a write here (every
unfollow path — ours, a peer's ``Reject``, a block, a move — stays as it is). Plain ``Session`` functions,
run in ``Database.read`` / ``Database.write`` units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlmodel import col

from fediverse.core.errors import NotFound, UnprocessableEntity
from fediverse.core.visibility import followed_ids
from fediverse.reads.timelines import list_member_ids
from storage.models import AccountList, Actor, ListMember

REPLIES_POLICIES = ("followed", "list", "none")
MAX_TITLE = 255
MAX_LISTS = 50  # per account, as Mastodon limits them
MAX_MEMBERS_AT_ONCE = 80


@dataclass(frozen=True)
class ListChanges:
    """What a create or update sets; ``None`` keeps the current value."""

    title: str | None = None
    replies_policy: str | None = None
    exclusive: bool | None = None


def _checked(changes: ListChanges) -> ListChanges:
    if changes.title is not None and not changes.title.strip():
        raise UnprocessableEntity("Validation failed: Title can't be blank")
    if changes.title is not None and len(changes.title) > MAX_TITLE:
        raise UnprocessableEntity(f"Validation failed: Title is too long (at most {MAX_TITLE} characters)")
    if changes.replies_policy is not None and changes.replies_policy not in REPLIES_POLICIES:
        raise UnprocessableEntity("Validation failed: Replies policy is not included in the list")
    return changes


def owned_lists(session: Session, account_id: int) -> list[AccountList]:
    query = select(AccountList).where(col(AccountList.account_id) == account_id)
    return list(session.scalars(query.order_by(col(AccountList.title), col(AccountList.id))))


def owned_list(session: Session, account_id: int, list_id: int) -> AccountList:
    """The account's list ``list_id``; anyone else's is not found."""
    found = session.get(AccountList, list_id)
    if found is None or found.account_id != account_id:
        raise NotFound("Record not found")
    return found


def create_list(session: Session, account_id: int, changes: ListChanges) -> AccountList:
    changes = _checked(changes)
    if changes.title is None:
        raise UnprocessableEntity("Validation failed: Title can't be blank")
    count = len(owned_lists(session, account_id))
    if count >= MAX_LISTS:
        raise UnprocessableEntity(f"Validation failed: You cannot have more than {MAX_LISTS} lists")
    made = AccountList(
        account_id=account_id,
        title=changes.title.strip(),
        replies_policy=changes.replies_policy or "list",
        exclusive=bool(changes.exclusive),
    )
    session.add(made)
    session.flush()
    return made


def update_list(session: Session, account_id: int, list_id: int, changes: ListChanges) -> AccountList:
    changes = _checked(changes)
    found = owned_list(session, account_id, list_id)
    if changes.title is not None:
        found.title = changes.title.strip()
    if changes.replies_policy is not None:
        found.replies_policy = changes.replies_policy
    if changes.exclusive is not None:
        found.exclusive = changes.exclusive
    session.flush()
    return found


def delete_list(session: Session, account_id: int, list_id: int) -> None:
    found = owned_list(session, account_id, list_id)
    session.execute(delete(ListMember).where(col(ListMember.list_id) == found.id))
    session.delete(found)


def delete_all_lists(session: Session, account_id: int) -> None:
    """An account's lists and their members (its purge)."""
    ids = select(col(AccountList.id)).where(col(AccountList.account_id) == account_id)
    session.execute(delete(ListMember).where(col(ListMember.list_id).in_(ids)))
    session.execute(delete(AccountList).where(col(AccountList.account_id) == account_id))


def members(
    session: Session,
    list_id: int,
    owner_actor_id: int,
    *,
    max_id: int | None = None,
    since_id: int | None = None,
    limit: int | None = 40,
) -> list[Actor]:
    """The list's current members, newest actor id first, below ``max_id`` and above ``since_id``; every
    one of them when ``limit`` is None."""
    query = select(Actor).where(
        col(Actor.id).in_(list_member_ids(list_id, owner_actor_id)), col(Actor.gone_at).is_(None)
    )
    if max_id is not None:
        query = query.where(col(Actor.id) < max_id)
    if since_id is not None:
        query = query.where(col(Actor.id) > since_id)
    query = query.order_by(col(Actor.id).desc())
    return list(session.scalars(query if limit is None else query.limit(limit)))


def add_members(session: Session, account_id: int, owner_actor_id: int, list_id: int, actor_ids: Sequence[int]) -> None:
    """Put accounts on the list; each must be one the owner follows (422 otherwise, nothing added)."""
    owned_list(session, account_id, list_id)
    wanted = list(dict.fromkeys(actor_ids))[:MAX_MEMBERS_AT_ONCE]
    if not wanted:
        return
    followed = set(
        session.scalars(
            select(col(Actor.id)).where(col(Actor.id).in_(wanted), col(Actor.id).in_(followed_ids(owner_actor_id)))
        )
    )
    if set(wanted) - followed:
        raise UnprocessableEntity("Validation failed: You must follow an account to add it to a list")
    present = set(
        session.scalars(
            select(col(ListMember.actor_id)).where(
                col(ListMember.list_id) == list_id, col(ListMember.actor_id).in_(wanted)
            )
        )
    )
    for actor_id in wanted:
        if actor_id not in present:
            session.add(ListMember(list_id=list_id, actor_id=actor_id))
    session.flush()


def remove_members(session: Session, account_id: int, list_id: int, actor_ids: Sequence[int]) -> None:
    owned_list(session, account_id, list_id)
    if actor_ids:
        session.execute(
            delete(ListMember).where(col(ListMember.list_id) == list_id, col(ListMember.actor_id).in_(list(actor_ids)))
        )


def lists_with(session: Session, account_id: int, owner_actor_id: int, actor_id: int) -> list[AccountList]:
    """The account's lists that ``actor_id`` is on (while followed)."""
    query = (
        select(AccountList)
        .join(ListMember, col(ListMember.list_id) == col(AccountList.id))
        .where(
            col(AccountList.account_id) == account_id,
            col(ListMember.actor_id) == actor_id,
            col(ListMember.actor_id).in_(followed_ids(owner_actor_id)),
        )
    )
    return list(session.scalars(query.order_by(col(AccountList.title), col(AccountList.id))))
