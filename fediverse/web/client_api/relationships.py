"""How the caller stands to other accounts, and changing it: relationships, follow and unfollow, block,
mute, removing a follower, follow requests, the block, mute and domain-block lists, familiar followers.

Every change goes through ``fediverse.social.actions`` (what our web UI does), so a follow sends the same
``Follow``, a block the same ``Block``; the answer is the new ``Relationship``, read in one unit of work.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse.core.errors import UnprocessableEntity
from fediverse.services import Services
from fediverse.social import actions
from fediverse.web.client_api.account_lookup import (
    actors_by_ids,
    parse_ids,
    path_account,
    shown,
)
from fediverse.web.client_api.auth import require_user
from fediverse.web.client_api.entities import Json, account, relationship
from fediverse.web.client_api.errors import RecordNotFound
from fediverse.web.client_api.paging import Page, link_header, page_of
from fediverse.web.client_api.params import Params, read_params
from fediverse.web.responses import JSONResponse
from storage.models import Account, AccountDomainBlock, Actor, Block, Follow, FollowState, Mute

#: A domain as clients send it: host names (IDNA already applied), with a port for test servers.
_DOMAIN = re.compile(
    r"(?=.{1,253}(:\d{1,5})?$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?"
)


def relationships_of(session: Session, viewer: Account, targets: Sequence[Actor]) -> list[Json]:
    """Mastodon's ``Relationship`` of ``viewer`` to each of ``targets``, in order, in five queries."""
    ids = [target.id for target in targets if target.id is not None]
    if not ids:
        return []
    me = viewer.actor_id
    mine: dict[int, str] = {
        int(followee): str(state)
        for followee, state in session.execute(
            select(col(Follow.followee_id), col(Follow.state)).where(
                col(Follow.follower_id) == me, col(Follow.followee_id).in_(ids)
            )
        )
    }
    theirs: dict[int, str] = {
        int(follower): str(state)
        for follower, state in session.execute(
            select(col(Follow.follower_id), col(Follow.state)).where(
                col(Follow.followee_id) == me, col(Follow.follower_id).in_(ids)
            )
        )
    }
    blocks = [
        (int(blocker), int(blocked))
        for blocker, blocked in session.execute(
            select(col(Block.blocker_id), col(Block.blocked_id)).where(
                ((col(Block.blocker_id) == me) & col(Block.blocked_id).in_(ids))
                | ((col(Block.blocked_id) == me) & col(Block.blocker_id).in_(ids))
            )
        )
    ]
    blocking = {blocked for blocker, blocked in blocks if blocker == me}
    blocked_by = {blocker for blocker, blocked in blocks if blocked == me}
    muting: dict[int, bool] = {
        int(muted): bool(hide)
        for muted, hide in session.execute(
            select(col(Mute.muted_id), col(Mute.hide_notifications)).where(
                col(Mute.muter_id) == me, col(Mute.muted_id).in_(ids)
            )
        )
    }
    domains = {target.domain for target in targets}
    blocked_domains = set(
        session.scalars(
            select(col(AccountDomainBlock.domain)).where(
                col(AccountDomainBlock.account_id) == viewer.id, col(AccountDomainBlock.domain).in_(domains)
            )
        )
    )
    answer = []
    for target in targets:
        key = target.id or 0
        answer.append(
            relationship(
                target,
                following=mine.get(key) == FollowState.ACCEPTED,
                requested=mine.get(key) == FollowState.PENDING,
                followed_by=theirs.get(key) == FollowState.ACCEPTED,
                requested_by=theirs.get(key) == FollowState.PENDING,
                blocking=key in blocking,
                blocked_by=key in blocked_by,
                muting=key in muting,
                muting_notifications=bool(muting.get(key)),
                domain_blocking=target.domain in blocked_domains,
            )
        )
    return answer


async def relationship_with(services: Services, viewer: Account, target: Actor) -> Json:
    (found,) = await services.db.read(lambda session: relationships_of(session, viewer, [target]))
    return found


async def _asked_ids(request: Request) -> list[int]:
    """``id[]`` (or ``id``): the accounts asked about, in order, once each; what is no id names none."""
    return parse_ids((await read_params(request)).strings("id"))


async def relationships(request: Request) -> Response:
    """``GET /api/v1/accounts/relationships?id[]=…``: unknown ids are left out, as Mastodon does."""
    services: Services = request.state.services
    viewer = await require_user(request, "read:follows")
    ids = await _asked_ids(request)

    def read(session: Session) -> list[Json]:
        found = actors_by_ids(session, ids)
        return relationships_of(session, viewer, [found[actor_id] for actor_id in ids if actor_id in found])

    return JSONResponse(await services.db.read(read))


Change = Callable[[Services, Account, Actor, Params], Awaitable[object]]
#: A social action on an account (``actions.follow``, ``actions.block`` …): the caller's name, the target's id.
Action = Callable[[Services, str, str], Awaitable[object]]


def _changing(scope: str, change: Change) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint ``POST /api/v1/accounts/:id/<verb>`` that applies ``change`` and answers the
    relationship after it."""

    async def endpoint(request: Request) -> Response:
        services: Services = request.state.services
        viewer = await require_user(request, scope)
        target = await path_account(request)
        params = await read_params(request)
        await change(services, viewer, target, params)
        return JSONResponse(await relationship_with(services, viewer, target))

    return endpoint


def _on_target(action: Action) -> Change:
    """The change that is ``action`` on the target, with no parameters."""

    async def change(services: Services, viewer: Account, target: Actor, _params: Params) -> None:
        await action(services, viewer.username, target.ap_id)

    return change


async def _mute(services: Services, viewer: Account, target: Actor, params: Params) -> None:
    """``notifications`` (default true) hides their notifications too; ``duration`` is not kept."""
    hide = params.flag("notifications", default=True)
    await actions.mute(services, viewer.username, target.ap_id, hide_notifications=bool(hide))


async def _remove_follower(services: Services, viewer: Account, target: Actor, _params: Params) -> None:
    await actions.answer_follow_request(services, viewer.username, target.ap_id, approve=False)


def _rows_page(query: Select[Any], key: Any, page: Page) -> Select[Any]:
    """``query`` bounded by the page's ids on ``key`` (a row id), newest first, or just above ``min_id``."""
    if page.max_id is not None:
        query = query.where(key < page.max_id)
    if page.newer is not None:
        query = query.where(key > page.newer)
    oldest_first = page.min_id is not None
    return query.order_by(key.asc() if oldest_first else key.desc()).limit(page.limit)


async def listed_accounts(request: Request, query: Select[Any], key: Any, extra: Json | None = None) -> Response:
    """A page of accounts from ``query`` (selecting ``Actor``), with Mastodon's ``Link`` header built from
    the row ids ``key`` (not the account ids), as Mastodon pages these lists; ``extra`` is added to each."""
    services: Services = request.state.services
    page = page_of(request)
    bounded = _rows_page(query.add_columns(key).where(shown()), key, page)

    def read(session: Session) -> list[tuple[Actor, int]]:
        rows = [(row[0], int(row[1])) for row in session.execute(bounded)]
        return sorted(rows, key=lambda row: row[1], reverse=True)

    rows = await services.db.read(read)
    return JSONResponse(
        [{**account(actor, services.urls), **(extra or {})} for actor, _ in rows],
        headers=link_header(request, [row_id for _, row_id in rows]),
    )


async def follow_requests(request: Request) -> Response:
    viewer = await require_user(request, "read:follows")
    query = (
        select(Actor)
        .join(Follow, col(Follow.follower_id) == col(Actor.id))
        .where(col(Follow.followee_id) == viewer.actor_id, col(Follow.state) == FollowState.PENDING)
    )
    return await listed_accounts(request, query, col(Follow.id))


def _answer_request(approve: bool) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        services: Services = request.state.services
        viewer = await require_user(request, "write:follows")
        target = await path_account(request)
        pending = await services.db.read(
            lambda session: session.scalar(
                select(col(Follow.id)).where(
                    col(Follow.follower_id) == target.id,
                    col(Follow.followee_id) == viewer.actor_id,
                    col(Follow.state) == FollowState.PENDING,
                )
            )
        )
        if pending is None:
            raise RecordNotFound()
        await actions.answer_follow_request(services, viewer.username, target.ap_id, approve=approve)
        return JSONResponse(await relationship_with(services, viewer, target))

    return endpoint


async def blocks(request: Request) -> Response:
    viewer = await require_user(request, "read:blocks")
    query = (
        select(Actor)
        .join(Block, col(Block.blocked_id) == col(Actor.id))
        .where(col(Block.blocker_id) == viewer.actor_id)
    )
    return await listed_accounts(request, query, col(Block.id))


async def mutes(request: Request) -> Response:
    viewer = await require_user(request, "read:mutes")
    query = select(Actor).join(Mute, col(Mute.muted_id) == col(Actor.id)).where(col(Mute.muter_id) == viewer.actor_id)
    return await listed_accounts(request, query, col(Mute.id), {"mute_expires_at": None})  # mutes never expire


def normalize_domain(raw: str | None) -> str:
    """A domain as the client typed it (``Example.COM``, ``https://example.com/``, ``bücher.example``)
    → ``example.com``; 422 when it is none."""
    text = (raw or "").strip().lower()
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    text = text.split("/", 1)[0].removeprefix("*.").strip(".")
    with contextlib.suppress(UnicodeError):
        text = text.encode("idna").decode("ascii")
    if not text or not _DOMAIN.fullmatch(text):
        raise UnprocessableEntity("Validation failed: Domain is not a domain name.")
    return text


async def domain_blocks(request: Request) -> Response:
    """``GET`` lists the caller's blocked domains (newest first, one page of up to 200); ``POST`` and
    ``DELETE`` add and remove one (``domain``), answering ``{}``."""
    services: Services = request.state.services
    if request.method == "GET":
        viewer = await require_user(request, "read:blocks")
        limit = page_of(request, default=100, maximum=200).limit
        found = await services.db.read(
            lambda session: list(
                session.scalars(
                    select(col(AccountDomainBlock.domain))
                    .where(col(AccountDomainBlock.account_id) == viewer.id)
                    .order_by(col(AccountDomainBlock.created_at).desc(), col(AccountDomainBlock.domain))
                    .limit(limit)
                )
            )
        )
        return JSONResponse(found)
    viewer = await require_user(request, "write:blocks")
    params = await read_params(request)
    domain = normalize_domain(params.text("domain", max_length=300))
    if request.method == "POST":
        if domain == services.urls.host.lower():
            raise UnprocessableEntity("Validation failed: You cannot block your own server.")
        await actions.block_domain(services, viewer.username, domain)
    else:
        await actions.unblock_domain(services, viewer.username, domain)
    return JSONResponse({})


async def familiar_followers(request: Request) -> Response:
    """For each ``id[]``: the accounts the caller follows that follow it too."""
    services: Services = request.state.services
    viewer = await require_user(request, "read:follows")
    ids = await _asked_ids(request)

    def read(session: Session) -> list[Json]:
        found = actors_by_ids(session, ids)
        mine = select(col(Follow.followee_id)).where(
            col(Follow.follower_id) == viewer.actor_id, col(Follow.state) == FollowState.ACCEPTED
        )
        answer = []
        for actor_id in ids:
            if actor_id not in found:
                continue
            known = session.scalars(
                select(Actor)
                .join(Follow, col(Follow.follower_id) == col(Actor.id))
                .where(
                    and_(
                        col(Follow.followee_id) == actor_id,
                        col(Follow.state) == FollowState.ACCEPTED,
                        col(Actor.id).in_(mine),
                        shown(),
                    )
                )
                .order_by(col(Follow.id).desc())
                .limit(40)
            )
            answer.append({"id": str(actor_id), "accounts": [account(actor, services.urls) for actor in known]})
        return answer

    return JSONResponse(await services.db.read(read))


_ID = "/api/v1/accounts/{id:id}"

routes: list[BaseRoute] = [
    Route("/api/v1/accounts/relationships", relationships),
    Route("/api/v1/accounts/familiar_followers", familiar_followers),
    Route(f"{_ID}/follow", _changing("write:follows", _on_target(actions.follow)), methods=["POST"]),
    Route(f"{_ID}/unfollow", _changing("write:follows", _on_target(actions.unfollow)), methods=["POST"]),
    Route(f"{_ID}/remove_from_followers", _changing("write:follows", _remove_follower), methods=["POST"]),
    Route(f"{_ID}/block", _changing("write:blocks", _on_target(actions.block)), methods=["POST"]),
    Route(f"{_ID}/unblock", _changing("write:blocks", _on_target(actions.unblock)), methods=["POST"]),
    Route(f"{_ID}/mute", _changing("write:mutes", _mute), methods=["POST"]),
    Route(f"{_ID}/unmute", _changing("write:mutes", _on_target(actions.unmute)), methods=["POST"]),
    Route("/api/v1/follow_requests", follow_requests),
    Route("/api/v1/follow_requests/{id:id}/authorize", _answer_request(True), methods=["POST"]),
    Route("/api/v1/follow_requests/{id:id}/reject", _answer_request(False), methods=["POST"]),
    Route("/api/v1/blocks", blocks),
    Route("/api/v1/mutes", mutes),
    Route("/api/v1/domain_blocks", domain_blocks, methods=["GET", "POST", "DELETE"]),
]
