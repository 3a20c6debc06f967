"""Read markers (``GET``/``POST /api/v1/markers``): where an account stopped reading its home timeline and
its notifications, shared by all its apps (``Marker`` rows).

As in Mastodon, a new marker starts at version 0 and each change of ``last_read_id`` adds one (saving the
same id again changes nothing); two apps creating the same marker at once get a 409 to retry. Moving the
``notifications`` marker also marks those notifications read, so our pages' unread badge and
``/api/v1/notifications/unread_count`` agree with the apps.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.errors import Conflict, UnprocessableEntity
from fediverse.core.ids import parse_id
from fediverse.web.client_api.auth import require_user
from fediverse.web.client_api.entities import Json, marker
from fediverse.web.client_api.params import Params, query_params, read_params
from fediverse.web.responses import JSONResponse
from storage.models import Account, Marker, Notification
from storage.types import utcnow

TIMELINES = ("home", "notifications")


def wanted_markers(params: Params) -> dict[str, int]:
    """``home[last_read_id]`` / ``notifications[last_read_id]`` (form or JSON) as ids."""
    wanted: dict[str, int] = {}
    for timeline in TIMELINES:
        given: Any = params.raw(timeline)
        if given is None:
            continue
        raw = given.get("last_read_id") if isinstance(given, dict) else None
        last_read_id = parse_id(raw)
        if last_read_id is None:
            raise UnprocessableEntity(f"{timeline}[last_read_id] must be an id.")
        wanted[timeline] = last_read_id
    return wanted


def _save(session: Session, account: Account, wanted: dict[str, int]) -> Json:
    now = utcnow()
    saved: Json = {}
    for timeline, last_read_id in wanted.items():
        row = session.get(Marker, {"account_id": account.id, "timeline": timeline}, with_for_update=True)
        if row is None:
            row = Marker(account_id=account.id or 0, timeline=timeline, last_read_id=str(last_read_id), updated_at=now)
            session.add(row)
        elif row.last_read_id != str(last_read_id):
            row.last_read_id, row.version, row.updated_at = str(last_read_id), row.version + 1, now
        saved[timeline] = marker(row)
    if "notifications" in wanted:
        session.execute(
            update(Notification)
            .where(
                col(Notification.account_id) == account.id,
                col(Notification.read_at).is_(None),
                col(Notification.id) <= wanted["notifications"],
            )
            .values(read_at=now)
        )
    session.flush()
    return saved


async def get_markers(request: Request) -> Response:
    account = await require_user(request, "read:statuses")
    timelines = [name for name in dict.fromkeys(query_params(request).strings("timeline")) if name in TIMELINES]
    if not timelines:
        return JSONResponse({})
    query = select(Marker).where(col(Marker.account_id) == account.id, col(Marker.timeline).in_(timelines))
    rows = await request.state.services.db.read(lambda session: list(session.scalars(query)))
    return JSONResponse({row.timeline: marker(row) for row in rows})


async def save_markers(request: Request) -> Response:
    account = await require_user(request, "write:statuses")
    wanted = wanted_markers(await read_params(request))
    if not wanted:
        return JSONResponse({})
    try:
        saved = await request.state.services.db.write(lambda session: _save(session, account, wanted))
    except IntegrityError as error:  # another app created the same marker meanwhile
        raise Conflict("Conflict during update, please try again") from error
    return JSONResponse(saved)


routes = [
    Route("/api/v1/markers", get_markers, methods=["GET"]),
    Route("/api/v1/markers", save_markers, methods=["POST"]),
]
