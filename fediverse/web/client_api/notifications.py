"""Notifications through the client API: the list (``types[]``, ``exclude_types[]``, ``account_id``, paged
with a ``Link``), one, dismiss one, clear all, and the unread count.

Every read goes through ``fediverse.social.notifications.shown_to``, the rule our notifications page uses:
a notification about a post is shown only while the reader may see that post (``core.visibility``), and
never from someone they block or muted with notifications hidden (audit finding M1). Statuses are rendered
by ``status_views.render_statuses`` in one read unit. Types are Mastodon's (``entities.NOTIFICATION_TYPES``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.errors import BadRequest
from fediverse.core.ids import parse_id
from fediverse.reads.post_views import WITHOUT_RAW_ACTOR
from fediverse.reads.timelines import Entry
from fediverse.services import Services
from fediverse.social.notifications import shown_to
from fediverse.web.client_api.auth import require_user
from fediverse.web.client_api.entities import NOTIFICATION_TYPES, Json, notification
from fediverse.web.client_api.errors import RecordNotFound
from fediverse.web.client_api.paging import Page, clamped_limit, link_header, page_of
from fediverse.web.client_api.params import Params, query_params, read_params
from fediverse.web.client_api.status_views import render_statuses
from fediverse.web.params import path_id
from fediverse.web.responses import JSONResponse
from storage.models import Account, Actor, Notification

READ_SCOPE = "read:notifications"
WRITE_SCOPE = "write:notifications"
DEFAULT_LIMIT, MAX_LIMIT = 40, 80  # Mastodon's, since 4.1
UNREAD_DEFAULT, UNREAD_MAX = 100, 1000


def our_types(names: Sequence[str]) -> list[str]:
    """Our notification types behind Mastodon's ``names`` (unknown names stand for none of ours)."""
    wanted = set(names)
    return sorted(ours for ours, theirs in NOTIFICATION_TYPES.items() if theirs in wanted)


def filters(account: Account, params: Params) -> list[ColumnElement[bool]]:
    """The reading rule, then the request's ``types[]``, ``exclude_types[]`` and ``account_id``."""
    conditions = [shown_to(account)]
    types = params.strings("types")
    if types:
        conditions.append(col(Notification.type).in_(our_types(types)))
    excluded = params.strings("exclude_types")
    if excluded:
        conditions.append(col(Notification.type).not_in(our_types(excluded)))
    if params.raw("account_id") not in (None, ""):
        from_actor = parse_id(params.raw("account_id"))
        if from_actor is None:
            raise BadRequest("account_id must be an id.")
        conditions.append(col(Notification.actor_id) == from_actor)
    return conditions


@dataclass(frozen=True)
class Loaded:
    rows: list[Notification]
    actors: dict[int, Actor]


def _page(session: Session, conditions: Sequence[ColumnElement[bool]], page: Page) -> Loaded:
    query = select(Notification).where(*conditions)
    if page.max_id is not None:
        query = query.where(col(Notification.id) < page.max_id)
    if page.min_id is not None:  # the items just after min_id: oldest first, then turned round
        query = query.where(col(Notification.id) > page.min_id).order_by(col(Notification.id))
        rows = list(reversed(session.scalars(query.limit(page.limit)).all()))
    else:
        if page.since_id is not None:
            query = query.where(col(Notification.id) > page.since_id)
        rows = list(session.scalars(query.order_by(col(Notification.id).desc()).limit(page.limit)))
    return Loaded(rows, actors_of(session, rows))


def actors_of(session: Session, rows: Sequence[Notification]) -> dict[int, Actor]:
    ids = list({row.actor_id for row in rows if row.actor_id is not None})
    if not ids:
        return {}
    found = session.scalars(select(Actor).where(col(Actor.id).in_(ids)).options(WITHOUT_RAW_ACTOR))
    return {actor.id: actor for actor in found if actor.id is not None}


async def render(services: Services, account: Account, loaded: Loaded) -> list[Json]:
    """The notifications in order; one whose actor or post is gone is left out (clients need both)."""
    post_ids = list(dict.fromkeys(row.post_id for row in loaded.rows if row.post_id is not None))
    statuses = await render_statuses(services, account, [Entry(post_id, post_id) for post_id in post_ids])
    by_post = {int(document["id"]): document for document in statuses}
    documents = []
    for row in loaded.rows:
        actor = loaded.actors.get(row.actor_id) if row.actor_id is not None else None
        post_status = by_post.get(row.post_id) if row.post_id is not None else None
        if actor is None or (row.post_id is not None and post_status is None):
            continue
        documents.append(notification(row, actor, post_status, services.urls))
    return documents


async def list_notifications(request: Request) -> Response:
    account = await require_user(request, READ_SCOPE)
    services: Services = request.state.services
    conditions = filters(account, query_params(request))
    page = page_of(request, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    loaded = await services.db.read(lambda session: _page(session, conditions, page))
    documents = await render(services, account, loaded)
    return JSONResponse(documents, headers=link_header(request, [row.id or 0 for row in loaded.rows]))


async def _one(services: Services, account: Account, notification_id: int) -> Loaded:
    """The notification if the account is shown it (404 otherwise: a hidden one does not exist for them)."""
    conditions = [shown_to(account), col(Notification.id) == notification_id]

    def load(session: Session) -> Loaded:
        rows = list(session.scalars(select(Notification).where(*conditions)))
        return Loaded(rows, actors_of(session, rows))

    loaded = await services.db.read(load)
    if not loaded.rows:
        raise RecordNotFound()
    return loaded


async def show_notification(request: Request) -> Response:
    account = await require_user(request, READ_SCOPE)
    services: Services = request.state.services
    documents = await render(services, account, await _one(services, account, path_id(request)))
    if not documents:
        raise RecordNotFound()
    return JSONResponse(documents[0])


async def dismiss_notification(request: Request) -> Response:
    account = await require_user(request, WRITE_SCOPE)
    return await _dismiss(request.state.services, account, path_id(request))


async def dismiss_notification_by_form(request: Request) -> Response:
    """The pre-1.3 form (``POST /api/v1/notifications/dismiss`` with ``id``), removed from Mastodon in 3.0
    but still what Mastodon.py falls back to when it cannot tell the server's version."""
    account = await require_user(request, WRITE_SCOPE)
    notification_id = parse_id((await read_params(request)).raw("id"))
    if notification_id is None:
        raise RecordNotFound()
    return await _dismiss(request.state.services, account, notification_id)


async def _dismiss(services: Services, account: Account, notification_id: int) -> Response:
    await _one(services, account, notification_id)
    await services.db.write(
        lambda session: session.execute(
            delete(Notification).where(
                col(Notification.id) == notification_id, col(Notification.account_id) == account.id
            )
        )
    )
    return JSONResponse({})


async def clear_notifications(request: Request) -> Response:
    account = await require_user(request, WRITE_SCOPE)
    await request.state.services.db.write(
        lambda session: session.execute(delete(Notification).where(col(Notification.account_id) == account.id))
    )
    return JSONResponse({})


async def unread_count(request: Request) -> Response:
    """Unread: not yet seen on our notifications page nor passed by the ``notifications`` marker (both set
    ``read_at``); capped at ``limit`` (100 by default, at most 1000) as Mastodon caps it."""
    account = await require_user(request, READ_SCOPE)
    params = query_params(request)
    conditions = [*filters(account, params), col(Notification.read_at).is_(None)]
    cap = clamped_limit(params.raw("limit"), default=UNREAD_DEFAULT, maximum=UNREAD_MAX)
    counted = select(col(Notification.id)).where(*conditions).limit(cap).subquery()

    def count(session: Session) -> int:
        return session.scalar(select(func.count()).select_from(counted)) or 0

    return JSONResponse({"count": await request.state.services.db.read(count)})


routes = [
    Route("/api/v1/notifications", list_notifications, methods=["GET"]),
    Route("/api/v1/notifications/unread_count", unread_count, methods=["GET"]),
    Route("/api/v1/notifications/clear", clear_notifications, methods=["POST"]),
    Route("/api/v1/notifications/dismiss", dismiss_notification_by_form, methods=["POST"]),
    Route("/api/v1/notifications/{id:id}", show_notification, methods=["GET"]),
    Route("/api/v1/notifications/{id:id}/dismiss", dismiss_notification, methods=["POST"]),
]
