"""Lists (docs/client-api.md): ``/api/v1/lists`` and a list's accounts, ``/api/v1/accounts/:id/lists`` and
``/api/v1/timelines/list/:id``. The rules are ``fediverse.social.lists``'s (members must be followed) and
the timeline is ``reads.timelines.list_page`` (the home timeline's read rule, the list's replies policy)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse.core.errors import NotFound
from fediverse.reads.timelines import Window, list_member_ids, list_page
from fediverse.services import Services
from fediverse.social import lists
from fediverse.web.client_api.account_lookup import actors_by_ids, path_account
from fediverse.web.client_api.auth import require_user
from fediverse.web.client_api.entities import Json, account
from fediverse.web.client_api.errors import RecordNotFound
from fediverse.web.client_api.paging import link_header, page_of
from fediverse.web.client_api.params import Params, read_params
from fediverse.web.client_api.relationships import listed_accounts
from fediverse.web.client_api.status_views import render_statuses
from fediverse.web.params import path_id
from fediverse.web.responses import JSONResponse
from storage.models import AccountList, Actor


def list_entity(found: AccountList) -> Json:
    """Mastodon's ``List``."""
    return {
        "id": str(found.id),
        "title": found.title,
        "replies_policy": found.replies_policy,
        "exclusive": found.exclusive,
    }


def _changes(params: Params) -> lists.ListChanges:
    return lists.ListChanges(
        title=params.text("title", max_length=lists.MAX_TITLE),
        replies_policy=params.text("replies_policy"),
        exclusive=params.flag("exclusive"),
    )


async def _own(services: Services, account_id: int, list_id: int) -> AccountList:
    try:
        return await services.db.read(lambda session: lists.owned_list(session, account_id, list_id))
    except NotFound as error:
        raise RecordNotFound() from error


async def index(request: Request) -> Response:
    viewer = await require_user(request, "read:lists")
    services: Services = request.state.services
    account_id = viewer.id or 0
    found = await services.db.read(lambda session: lists.owned_lists(session, account_id))
    return JSONResponse([list_entity(item) for item in found])


async def create(request: Request) -> Response:
    viewer = await require_user(request, "write:lists")
    services: Services = request.state.services
    changes, account_id = _changes(await read_params(request)), viewer.id or 0
    made = await services.db.write(lambda session: lists.create_list(session, account_id, changes))
    return JSONResponse(list_entity(made))


async def show(request: Request) -> Response:
    viewer = await require_user(request, "read:lists")
    return JSONResponse(list_entity(await _own(request.state.services, viewer.id or 0, path_id(request))))


async def update(request: Request) -> Response:
    viewer = await require_user(request, "write:lists")
    services: Services = request.state.services
    list_id, account_id = path_id(request), viewer.id or 0
    await _own(services, account_id, list_id)
    changes = _changes(await read_params(request))
    changed = await services.db.write(lambda session: lists.update_list(session, account_id, list_id, changes))
    return JSONResponse(list_entity(changed))


async def destroy(request: Request) -> Response:
    viewer = await require_user(request, "write:lists")
    services: Services = request.state.services
    list_id, account_id = path_id(request), viewer.id or 0
    await _own(services, account_id, list_id)
    await services.db.write(lambda session: lists.delete_list(session, account_id, list_id))
    return JSONResponse({})


async def accounts(request: Request) -> Response:
    """The list's members, paged by account id; ``limit=0`` is all of them, as in Mastodon."""
    viewer = await require_user(request, "read:lists")
    services: Services = request.state.services
    owned = await _own(services, viewer.id or 0, path_id(request))
    if request.query_params.get("limit") == "0":
        everyone = await services.db.read(lambda session: lists.members(session, owned.id, viewer.actor_id, limit=None))
        return JSONResponse([account(actor, services.urls) for actor in everyone])
    query = select(Actor).where(col(Actor.id).in_(list_member_ids(owned.id, viewer.actor_id)))
    return await listed_accounts(request, query, col(Actor.id))


async def change_accounts(request: Request) -> Response:
    """``POST`` adds ``account_ids[]`` (each followed, else 422), ``DELETE`` removes them."""
    viewer = await require_user(request, "write:lists")
    services: Services = request.state.services
    list_id, account_id = path_id(request), viewer.id or 0
    await _own(services, account_id, list_id)
    wanted = (await read_params(request)).ids("account_ids")[: lists.MAX_MEMBERS_AT_ONCE]
    if request.method == "DELETE":
        await services.db.write(lambda session: lists.remove_members(session, account_id, list_id, wanted))
        return JSONResponse({})
    known = await services.db.read(lambda session: actors_by_ids(session, wanted))
    if set(wanted) - set(known):
        raise RecordNotFound()

    def add(session: Session) -> None:
        lists.add_members(session, account_id, viewer.actor_id, list_id, wanted)

    await services.db.write(add)
    return JSONResponse({})


async def lists_of_account(request: Request) -> Response:
    """``/api/v1/accounts/:id/lists``: the caller's lists that account is on."""
    viewer = await require_user(request, "read:lists")
    services: Services = request.state.services
    member = await path_account(request)
    account_id, member_id = viewer.id or 0, member.id or 0
    found = await services.db.read(lambda session: lists.lists_with(session, account_id, viewer.actor_id, member_id))
    return JSONResponse([list_entity(item) for item in found])


async def timeline(request: Request) -> Response:
    viewer = await require_user(request, "read:lists")
    services: Services = request.state.services
    owned = await _own(services, viewer.id or 0, path_id(request))
    page = page_of(request)
    window = Window(page.max_id, page.since_id, page.min_id)
    found = await services.db.read(lambda session: list_page(session, owned, viewer.actor_id, window, page.limit))
    statuses = await render_statuses(services, viewer, found.entries)
    return JSONResponse(statuses, headers=link_header(request, [entry.entry_id for entry in found.entries]))


routes: list[BaseRoute] = [
    Route("/api/v1/lists", index, methods=["GET"]),
    Route("/api/v1/lists", create, methods=["POST"]),
    Route("/api/v1/lists/{id:id}", show, methods=["GET"]),
    Route("/api/v1/lists/{id:id}", update, methods=["PUT"]),
    Route("/api/v1/lists/{id:id}", destroy, methods=["DELETE"]),
    Route("/api/v1/lists/{id:id}/accounts", accounts, methods=["GET"]),
    Route("/api/v1/lists/{id:id}/accounts", change_accounts, methods=["POST", "DELETE"]),
    Route("/api/v1/accounts/{id:id}/lists", lists_of_account, methods=["GET"]),
    Route("/api/v1/timelines/list/{id:id}", timeline, methods=["GET"]),
]
