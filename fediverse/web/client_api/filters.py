"""Custom filters (docs/client-api.md): Mastodon 4's ``/api/v2/filters`` with their keywords and chosen
statuses (one of them at Mastodon's ``/api/v2/filters/keywords/:id`` and ``/api/v2/filters/statuses/:id``,
also answered as ``/api/v2/filter_keywords/:id`` and ``/api/v2/filter_statuses/:id``), and the older
``/api/v1/filters`` over the same rows (one keyword seen as one filter). The rules are
``fediverse.social.filters``'s; matching is ``fediverse.reads.filters``'s."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse.core.errors import NotFound, UnprocessableEntity
from fediverse.services import Services
from fediverse.social import filters
from fediverse.web.client_api.auth import require_user
from fediverse.web.client_api.entities import Json, custom_filter, filter_keyword, filter_status, v1_filter
from fediverse.web.client_api.errors import RecordNotFound
from fediverse.web.client_api.params import Params, read_params
from fediverse.web.params import path_id
from fediverse.web.responses import JSONResponse
from storage.models import CustomFilter
from storage.types import utcnow

T = TypeVar("T")
Row = TypeVar("Row")

#: The longest ``expires_in`` taken: ten years in seconds.
MAX_EXPIRES_IN = 10 * 366 * 24 * 3600


def _fields(params: Params, *, action: str | None = None) -> filters.FilterFields:
    """``title``, ``context[]``, ``filter_action``, ``expires_in`` (seconds; empty or null: never)."""
    change_expiry = "expires_in" in params.values
    seconds = params.integer("expires_in", minimum=1, maximum=MAX_EXPIRES_IN) if change_expiry else None
    return filters.FilterFields(
        title=params.text("title", max_length=filters.MAX_TITLE),
        context=params.strings("context") if "context" in params else None,
        action=action if action is not None else params.text("filter_action"),
        change_expiry=change_expiry,
        expires_at=utcnow() + timedelta(seconds=seconds) if seconds is not None else None,
    )


def _keyword_changes(params: Params) -> list[filters.KeywordChange]:
    return [
        filters.KeywordChange(
            id=item.id("id"),
            keyword=item.text("keyword", max_length=filters.MAX_KEYWORD),
            whole_word=item.flag("whole_word"),
            destroy=bool(item.flag("_destroy")),
        )
        for item in params.objects("keywords_attributes")[: filters.MAX_KEYWORDS]
    ]


def _document(session: Session, row: CustomFilter) -> Json:
    return custom_filter(row, filters.keywords_of(session, [row.id]), filters.statuses_of(session, [row.id]))


async def _run(services: Services, work: Callable[[Session], T]) -> T:
    """Run a write unit, its NotFound as Mastodon's 404 ``Record not found``."""
    try:
        return await services.db.write(work)
    except NotFound as error:
        raise RecordNotFound() from error


async def _read(services: Services, work: Callable[[Session], T]) -> T:
    try:
        return await services.db.read(work)
    except NotFound as error:
        raise RecordNotFound() from error


# -- v2 --------------------------------------------------------------------------------------------------


async def index(request: Request) -> Response:
    viewer = await require_user(request, "read:filters")
    services: Services = request.state.services
    account_id = viewer.id or 0

    def load(session: Session) -> list[Json]:
        rows = filters.filters_of(session, account_id)
        ids = [row.id for row in rows]
        keywords, chosen = filters.keywords_of(session, ids), filters.statuses_of(session, ids)
        return [
            custom_filter(
                row,
                [item for item in keywords if item.filter_id == row.id],
                [item for item in chosen if item.filter_id == row.id],
            )
            for row in rows
        ]

    return JSONResponse(await services.db.read(load))


async def create(request: Request) -> Response:
    viewer = await require_user(request, "write:filters")
    services: Services = request.state.services
    params, account_id = await read_params(request), viewer.id or 0
    fields, keywords = _fields(params), _keyword_changes(params)

    def write(session: Session) -> Json:
        return _document(session, filters.create_filter(session, account_id, fields, keywords))

    return JSONResponse(await _run(services, write))


async def show(request: Request) -> Response:
    viewer = await require_user(request, "read:filters")
    services: Services = request.state.services
    filter_id, account_id = path_id(request), viewer.id or 0
    return JSONResponse(
        await _read(services, lambda session: _document(session, filters.own_filter(session, account_id, filter_id)))
    )


async def update(request: Request) -> Response:
    viewer = await require_user(request, "write:filters")
    services: Services = request.state.services
    filter_id, account_id = path_id(request), viewer.id or 0
    params = await read_params(request)
    fields, keywords = _fields(params), _keyword_changes(params)

    def write(session: Session) -> Json:
        return _document(session, filters.update_filter(session, account_id, filter_id, fields, keywords))

    return JSONResponse(await _run(services, write))


async def destroy(request: Request) -> Response:
    viewer = await require_user(request, "write:filters")
    services: Services = request.state.services
    filter_id, account_id = path_id(request), viewer.id or 0

    def write(session: Session) -> Json:
        filters.delete_filter(session, account_id, filter_id)
        return {}

    return JSONResponse(await _run(services, write))


async def _rows_of_filter(
    request: Request,
    filter_id: int,
    rows_of: Callable[[Session, list[int]], Sequence[Row]],
    shape: Callable[[Row], Json],
) -> Response:
    """``GET`` the keywords or the chosen statuses of one of the caller's filters, as entities."""
    viewer = await require_user(request, "read:filters")
    account_id = viewer.id or 0

    def load(session: Session) -> list[Json]:
        row = filters.own_filter(session, account_id, filter_id)
        return [shape(item) for item in rows_of(session, [row.id])]

    return JSONResponse(await _read(request.state.services, load))


async def keywords(request: Request) -> Response:
    """``GET`` the filter's keywords, ``POST`` one more (``keyword``, ``whole_word``)."""
    services: Services = request.state.services
    filter_id = path_id(request)
    if request.method == "GET":
        return await _rows_of_filter(request, filter_id, filters.keywords_of, filter_keyword)
    viewer = await require_user(request, "write:filters")
    account_id, params = viewer.id or 0, await read_params(request)
    change = filters.KeywordChange(
        keyword=params.text("keyword", max_length=filters.MAX_KEYWORD), whole_word=params.flag("whole_word")
    )

    def add(session: Session) -> Json:
        row = filters.own_filter(session, account_id, filter_id)
        before = {item.id for item in filters.keywords_of(session, [row.id])}
        filters.change_keywords(session, row, [change])
        (added,) = [item for item in filters.keywords_of(session, [row.id]) if item.id not in before]
        return filter_keyword(added)

    return JSONResponse(await _run(services, add))


async def keyword(request: Request) -> Response:
    """``/api/v2/filter_keywords/:id``: read, change (``keyword``, ``whole_word``) or delete one keyword."""
    services: Services = request.state.services
    keyword_id = path_id(request)
    scope = "read:filters" if request.method == "GET" else "write:filters"
    viewer = await require_user(request, scope)
    account_id = viewer.id or 0
    if request.method == "GET":
        found = await _read(
            services, lambda session: filter_keyword(filters.own_keyword(session, account_id, keyword_id)[0])
        )
        return JSONResponse(found)
    if request.method == "DELETE":

        def remove(session: Session) -> Json:
            filters.delete_keyword(session, account_id, keyword_id)
            return {}

        return JSONResponse(await _run(services, remove))
    params = await read_params(request)
    change = filters.KeywordChange(
        id=keyword_id,
        keyword=params.text("keyword", max_length=filters.MAX_KEYWORD),
        whole_word=params.flag("whole_word"),
    )

    def edit(session: Session) -> Json:
        item, row = filters.own_keyword(session, account_id, keyword_id)
        filters.change_keywords(session, row, [change])
        return filter_keyword(item)

    return JSONResponse(await _run(services, edit))


async def statuses(request: Request) -> Response:
    """``GET`` the statuses chosen for the filter, ``POST`` one more (``status_id``)."""
    services: Services = request.state.services
    filter_id = path_id(request)
    if request.method == "GET":
        return await _rows_of_filter(request, filter_id, filters.statuses_of, filter_status)
    viewer = await require_user(request, "write:filters")
    account_id, actor_id = viewer.id or 0, viewer.actor_id
    status_id = (await read_params(request)).id("status_id")
    if status_id is None:
        raise UnprocessableEntity("status_id is missing.")

    def add(session: Session) -> Json:
        return filter_status(filters.add_status(session, account_id, actor_id, filter_id, status_id))

    return JSONResponse(await _run(services, add))


async def status(request: Request) -> Response:
    """``/api/v2/filter_statuses/:id``: read or delete one chosen status."""
    services: Services = request.state.services
    chosen_id = path_id(request)
    viewer = await require_user(request, "read:filters" if request.method == "GET" else "write:filters")
    account_id = viewer.id or 0
    if request.method == "GET":
        found = await _read(
            services, lambda session: filter_status(filters.own_status(session, account_id, chosen_id)[0])
        )
        return JSONResponse(found)

    def remove(session: Session) -> Json:
        filters.delete_status(session, account_id, chosen_id)
        return {}

    return JSONResponse(await _run(services, remove))


# -- v1: one keyword, one filter ------------------------------------------------------------------------


def _v1_action(params: Params) -> str | None:
    irreversible = params.flag("irreversible")
    return None if irreversible is None else ("hide" if irreversible else "warn")


async def v1_index(request: Request) -> Response:
    viewer = await require_user(request, "read:filters")
    services: Services = request.state.services
    account_id = viewer.id or 0

    def load(session: Session) -> list[Json]:
        rows = {row.id: row for row in filters.filters_of(session, account_id)}
        return [v1_filter(item, rows[item.filter_id]) for item in filters.keywords_of(session, list(rows))]

    return JSONResponse(await services.db.read(load))


async def v1_create(request: Request) -> Response:
    viewer = await require_user(request, "write:filters")
    services: Services = request.state.services
    params, account_id = await read_params(request), viewer.id or 0
    fields = _fields(params, action=_v1_action(params) or "warn")
    phrase, whole_word = params.text("phrase", max_length=filters.MAX_KEYWORD), params.flag("whole_word")

    def write(session: Session) -> Json:
        item = filters.v1_create(session, account_id, fields, phrase, whole_word)
        return v1_filter(item, filters.own_filter(session, account_id, item.filter_id))

    return JSONResponse(await _run(services, write))


async def v1_one(request: Request) -> Response:
    """``GET``, ``PUT`` (``phrase``, ``context[]``, ``irreversible``, ``whole_word``, ``expires_in``) or
    ``DELETE`` one v1 filter, which is a keyword."""
    services: Services = request.state.services
    keyword_id = path_id(request)
    viewer = await require_user(request, "read:filters" if request.method == "GET" else "write:filters")
    account_id = viewer.id or 0
    if request.method == "GET":

        def load(session: Session) -> Json:
            item, row = filters.own_keyword(session, account_id, keyword_id)
            return v1_filter(item, row)

        return JSONResponse(await _read(services, load))
    if request.method == "DELETE":

        def remove(session: Session) -> Json:
            filters.v1_delete(session, account_id, keyword_id)
            return {}

        return JSONResponse(await _run(services, remove))
    params = await read_params(request)
    fields = _fields(params, action=_v1_action(params))
    phrase, whole_word = params.text("phrase", max_length=filters.MAX_KEYWORD), params.flag("whole_word")

    def edit(session: Session) -> Json:
        item, row = filters.v1_update(session, account_id, keyword_id, fields, phrase, whole_word)
        return v1_filter(item, row)

    return JSONResponse(await _run(services, edit))


routes: list[BaseRoute] = [
    Route("/api/v2/filters", index, methods=["GET"]),
    Route("/api/v2/filters", create, methods=["POST"]),
    Route("/api/v2/filters/{id:id}", show, methods=["GET"]),
    Route("/api/v2/filters/{id:id}", update, methods=["PUT"]),
    Route("/api/v2/filters/{id:id}", destroy, methods=["DELETE"]),
    Route("/api/v2/filters/{id:id}/keywords", keywords, methods=["GET", "POST"]),
    Route("/api/v2/filters/keywords/{id:id}", keyword, methods=["GET", "PUT", "DELETE"]),
    Route("/api/v2/filter_keywords/{id:id}", keyword, methods=["GET", "PUT", "DELETE"]),
    Route("/api/v2/filters/{id:id}/statuses", statuses, methods=["GET", "POST"]),
    Route("/api/v2/filters/statuses/{id:id}", status, methods=["GET", "DELETE"]),
    Route("/api/v2/filter_statuses/{id:id}", status, methods=["GET", "DELETE"]),
    Route("/api/v1/filters", v1_index, methods=["GET"]),
    Route("/api/v1/filters", v1_create, methods=["POST"]),
    Route("/api/v1/filters/{id:id}", v1_one, methods=["GET", "PUT", "DELETE"]),
]
