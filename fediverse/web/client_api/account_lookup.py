"""Finding the accounts a client names: by id (an actor id), by ``acct`` (``name`` or ``name@host``), many
ids at once. An account the client API shows is a known actor that is not gone; a local one must be a
person's account that is not disabled (the instance actor is nobody's account). Unknown ones are Mastodon's
404 ``Record not found``.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request

from fediverse.core.ids import parse_id
from fediverse.services import Services
from fediverse.web.client_api.errors import RecordNotFound
from storage.models import Account, Actor

#: How many ids one call may name (``relationships``, ``familiar_followers``).
MAX_IDS = 80


def shown() -> ColumnElement[bool]:
    """Actors the client API shows: not gone, and for local ones a person's account that is not disabled."""
    live_account = select(col(Account.actor_id)).where(col(Account.disabled_at).is_(None))
    return and_(
        col(Actor.gone_at).is_(None),
        or_(col(Actor.is_local).is_(False), col(Actor.id).in_(live_account)),
    )


def actors_by_ids(session: Session, ids: Iterable[int]) -> dict[int, Actor]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    found = session.scalars(select(Actor).where(col(Actor.id).in_(wanted), shown()))
    return {actor.id: actor for actor in found if actor.id is not None}


def parse_ids(values: Iterable[object]) -> list[int]:
    """The ids among ``values`` in order, once each; what is no id is left out (it names no account)."""
    ids: list[int] = []
    for value in values:
        number = parse_id(value)
        if number is not None and number not in ids:
            ids.append(number)
    return ids[:MAX_IDS]


async def path_account(request: Request) -> Actor:
    """The account the path names (``{id:id}``), if the API shows it; 404 otherwise."""
    services: Services = request.state.services
    actor_id: int = request.path_params["id"]
    found = await services.db.read(lambda session: actors_by_ids(session, [actor_id]))
    if actor_id not in found:
        raise RecordNotFound()
    return found[actor_id]


def actor_by_acct(session: Session, acct: str, local_host: str) -> Actor | None:
    """``name`` or ``name@host`` (with or without a leading ``@``) among the accounts we know; no network."""
    username, _, host = acct.strip().lstrip("@").partition("@")
    if not username:
        return None
    if not host or host.lower() == local_host.lower():
        where = and_(col(Actor.is_local).is_(True), col(Actor.username) == username.lower())
    else:
        where = and_(col(Actor.username) == username, col(Actor.domain) == host.lower())
    return session.scalar(select(Actor).where(where, shown(), col(Actor.type) != "Application").limit(1))
