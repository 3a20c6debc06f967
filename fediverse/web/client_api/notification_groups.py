"""Grouped notifications, Mastodon 4.3's ``/api/v2/notifications``: the list of groups, one group, dismissing
a group, a group's accounts, and the unread count of groups.

A group is the notifications that share a ``group_key`` (``entities.group_key``: favourites and boosts of
one status on one UTC day, follows on one day; every other notification is a group of its own). The page
is Mastodon's: notifications are read newest first (oldest first after ``min_id``), skipping those whose
group is already on the page, until ``limit`` groups are found; each group then says how many of its
notifications fall within the page (``notifications_count``), its newest (``most_recent_notification_id``,
``page_max_id``, ``latest_page_notification_at``) and oldest (``page_min_id``) there, and up to eight of
their accounts. Older notifications of a group show again on a later page, as the same ``group_key``.

The reading rule is the v1 list's (``notifications.filters``: ``social.notifications.shown_to``, then
``types[]``, ``exclude_types[]`` and ``account_id``), so the groups count what the notifications page shows.
Group keys are computed from the rows, not stored: the page reads the notifications it groups, at most
``MAX_SCANNED`` of them (a page cut short there ends at the oldest one read).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.errors import BadRequest
from fediverse.core.ids import parse_id
from fediverse.reads.timelines import Entry
from fediverse.services import Services
from fediverse.social.notifications import shown_to
from fediverse.web.client_api.auth import require_user
from fediverse.web.client_api.entities import (
    GROUPABLE_NOTIFICATION_TYPES,
    STATUS_NOTIFICATION_TYPES,
    Json,
    account,
    group_key,
    iso,
    notification_type,
    partial_account,
)
from fediverse.web.client_api.errors import RecordNotFound
from fediverse.web.client_api.notifications import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    READ_SCOPE,
    UNREAD_DEFAULT,
    UNREAD_MAX,
    WRITE_SCOPE,
    actors_of,
    filters,
    our_types,
)
from fediverse.web.client_api.paging import Page, clamped_limit, link_header, page_of
from fediverse.web.client_api.params import Params, query_params
from fediverse.web.client_api.status_views import render_statuses
from fediverse.web.responses import JSONResponse
from storage.models import Account, Actor, Notification

#: Accounts shown per group, as Mastodon's ``SAMPLE_ACCOUNTS_SIZE``.
SAMPLE_ACCOUNTS = 8
#: Notifications read in one go, and at most for one page.
_BATCH, MAX_SCANNED = 200, 4000
_KEY = re.compile(r"(?:(favourite|reblog)-(\d{1,19})|(follow))-(\d{1,7})\Z")
_UNGROUPED = re.compile(r"ungrouped-(\d{1,19})\Z")
#: The last day a group key may name (31 December 9998, so the day after it is still a date).
_LAST_DAY = (date(9998, 12, 31) - date(1970, 1, 1)).days


@dataclass
class Group:
    """A group's notifications within the page, newest first; ``first`` is the one that put it on the page."""

    key: str
    first: Notification
    members: list[Notification] = field(default_factory=list)

    @property
    def newest(self) -> Notification:
        return self.members[0]


def grouped_types(params: Params) -> frozenset[str]:
    """The types the client lets us group (``grouped_types[]``; all we group when it names none)."""
    named = params.strings("grouped_types")
    return frozenset(named) & GROUPABLE_NOTIFICATION_TYPES if named else GROUPABLE_NOTIFICATION_TYPES


def key_of(row: Notification, groupable: frozenset[str]) -> str:
    return group_key(row) if notification_type(row) in groupable else f"ungrouped-{row.id}"


def _scan(
    session: Session, conditions: Sequence[ColumnElement[bool]], page: Page, groupable: frozenset[str]
) -> list[Group]:
    """The page's groups, in the order they were met (newest first, or oldest first after ``min_id``)."""
    upwards = page.min_id is not None
    groups: dict[str, Group] = {}
    cursor: int | None = None
    scanned = 0
    while scanned < MAX_SCANNED:
        query = select(Notification).where(*conditions)
        if page.max_id is not None:
            query = query.where(col(Notification.id) < page.max_id)
        if upwards:
            query = query.where(col(Notification.id) > (cursor if cursor is not None else page.min_id))
            query = query.order_by(col(Notification.id))
        else:
            if page.since_id is not None:
                query = query.where(col(Notification.id) > page.since_id)
            if cursor is not None:
                query = query.where(col(Notification.id) < cursor)
            query = query.order_by(col(Notification.id).desc())
        rows = list(session.scalars(query.limit(_BATCH)))
        for row in rows:
            scanned += 1
            key = key_of(row, groupable)
            group = groups.get(key)
            if group is None:
                if len(groups) == page.limit:
                    return list(groups.values())
                group = groups[key] = Group(key, row)
            group.members.append(row)
        if len(rows) < _BATCH:
            break
        cursor = rows[-1].id
    return list(groups.values())


def _finish(groups: list[Group], *, upwards: bool) -> list[Group]:
    """Newest first within each group, groups in Mastodon's order (by the notification that placed them)."""
    for group in groups:
        group.members.sort(key=lambda row: row.id or 0, reverse=True)
    return list(reversed(groups)) if upwards else groups


@dataclass(frozen=True)
class Rendered:
    groups: list[Json]
    accounts: list[Json]
    partial_accounts: list[Json] | None
    statuses: list[Json]


async def render(
    services: Services, viewer: Account, groups: list[Group], actors: dict[int, Actor], *, paged: bool, partial: bool
) -> Rendered:
    """Mastodon's ``GroupedNotificationsResults``; a group whose account or status is gone is left out."""
    post_ids = [group.first.post_id for group in groups if group.first.post_id is not None]
    entries = [Entry(post_id, post_id) for post_id in dict.fromkeys(post_ids)]
    statuses = {int(document["id"]): document for document in await render_statuses(services, viewer, entries)}
    documents: list[Json] = []
    full: dict[int, Json] = {}
    partial_ones: dict[int, Json] = {}
    used_statuses: dict[int, Json] = {}
    for group in groups:
        sample = [row.actor_id for row in group.members if row.actor_id is not None and row.actor_id in actors]
        sample = list(dict.fromkeys(sample))[:SAMPLE_ACCOUNTS]
        kind = notification_type(group.first)
        has_status = kind in STATUS_NOTIFICATION_TYPES
        post_id = group.first.post_id
        if not sample or (post_id is not None and post_id not in statuses):
            continue
        document: Json = {
            "group_key": group.key,
            "notifications_count": len(group.members),
            "type": kind,
            "most_recent_notification_id": group.newest.id,
            "sample_account_ids": [str(actor_id) for actor_id in sample],
        }
        if paged:
            document["page_min_id"] = str(group.members[-1].id)
            document["page_max_id"] = str(group.newest.id)
            document["latest_page_notification_at"] = iso(group.newest.created_at)
        if has_status:
            document["status_id"] = str(post_id) if post_id is not None else None
        if post_id is not None and has_status:
            used_statuses[post_id] = statuses[post_id]
        documents.append(document)
        for index, actor_id in enumerate(sample):
            if not partial or index == 0:
                full.setdefault(actor_id, account(actors[actor_id], services.urls))
            else:
                partial_ones.setdefault(actor_id, partial_account(actors[actor_id], services.urls))
    partial_list = [document for actor_id, document in partial_ones.items() if actor_id not in full]
    return Rendered(documents, list(full.values()), partial_list if partial else None, list(used_statuses.values()))


def _results(rendered: Rendered) -> Json:
    results: Json = {"accounts": rendered.accounts}
    if rendered.partial_accounts is not None:
        results["partial_accounts"] = rendered.partial_accounts
    results["statuses"] = rendered.statuses
    results["notification_groups"] = rendered.groups
    return results


def _expand_accounts(params: Params) -> bool:
    """Whether accounts past each group's newest come as partial ones (``expand_accounts``)."""
    value = params.raw("expand_accounts")
    if value in (None, "full"):
        return False
    if value == "partial_avatars":
        return True
    raise BadRequest(f"Invalid value for 'expand_accounts': '{value}', allowed values are 'full' and 'partial_avatars'")


async def list_groups(request: Request) -> Response:
    viewer = await require_user(request, READ_SCOPE)
    services: Services = request.state.services
    params = query_params(request)
    conditions = filters(viewer, params)
    partial = _expand_accounts(params)
    groupable = grouped_types(params)
    page = page_of(request, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)

    def load(session: Session) -> tuple[list[Group], dict[int, Actor]]:
        groups = _finish(_scan(session, conditions, page, groupable), upwards=page.min_id is not None)
        return groups, actors_of(session, [row for group in groups for row in group.members])

    groups, actors = await services.db.read(load)
    rendered = await render(services, viewer, groups, actors, paged=True, partial=partial)
    placed = [group.first.id or 0 for group in groups]
    ids = [max(placed), min(placed)] if placed else []
    return JSONResponse(_results(rendered), headers=link_header(request, ids))


def _key_conditions(viewer: Account, key: str) -> list[ColumnElement[bool]] | None:
    """The viewer's notifications in the group ``key`` (None for a key that names no group: a malformed
    one, or ids and days out of range)."""
    mine = col(Notification.account_id) == viewer.id
    if ungrouped := _UNGROUPED.match(key):
        notification_id = parse_id(ungrouped.group(1))
        return None if notification_id is None else [mine, col(Notification.id) == notification_id]
    grouped = _KEY.match(key)
    if grouped is None:
        return None
    kind = grouped.group(1) or grouped.group(3)
    day = parse_id(grouped.group(4), minimum=0, maximum=_LAST_DAY)
    if day is None:
        return None
    start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)
    conditions = [
        mine,
        col(Notification.type).in_(our_types([kind])),
        col(Notification.created_at) >= start,
        col(Notification.created_at) < start + timedelta(days=1),
    ]
    if grouped.group(2) is not None:
        post_id = parse_id(grouped.group(2))
        if post_id is None:
            return None
        conditions.append(col(Notification.post_id) == post_id)
    return conditions


def _whole_group(session: Session, conditions: Sequence[ColumnElement[bool]], limit: int) -> list[Notification]:
    query = select(Notification).where(*conditions).order_by(col(Notification.id).desc()).limit(limit)
    return list(session.scalars(query))


async def show_group(request: Request) -> Response:
    """One group, all of it (no page): its count, newest notification and eight accounts."""
    viewer = await require_user(request, READ_SCOPE)
    services: Services = request.state.services
    key = request.path_params["group_key"]
    conditions = _key_conditions(viewer, key)
    if conditions is None:
        raise RecordNotFound()
    shown = [*conditions, shown_to(viewer)]

    def load(session: Session) -> tuple[list[Notification], dict[int, Actor]]:
        rows = _whole_group(session, shown, MAX_SCANNED)
        return rows, actors_of(session, rows[: SAMPLE_ACCOUNTS * 4])

    rows, actors = await services.db.read(load)
    if not rows:
        raise RecordNotFound()
    group = Group(key, rows[0], rows)
    rendered = await render(services, viewer, [group], actors, paged=False, partial=False)
    if not rendered.groups:
        raise RecordNotFound()
    return JSONResponse(_results(rendered))


async def group_accounts(request: Request) -> Response:
    """Every account in the group, newest notification first, paged by notification id."""
    viewer = await require_user(request, WRITE_SCOPE)  # Mastodon asks write:notifications here
    services: Services = request.state.services
    conditions = _key_conditions(viewer, request.path_params["group_key"])
    if conditions is None:
        raise RecordNotFound()
    page = page_of(request, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    shown = [*conditions, shown_to(viewer)]
    if page.max_id is not None:
        shown.append(col(Notification.id) < page.max_id)
    if page.newer is not None:
        shown.append(col(Notification.id) > page.newer)

    def load(session: Session) -> tuple[list[Notification], dict[int, Actor]]:
        rows = _whole_group(session, shown, page.limit)
        return rows, actors_of(session, rows)

    rows, actors = await services.db.read(load)
    documents = [account(actors[row.actor_id], services.urls) for row in rows if row.actor_id in actors]
    return JSONResponse(documents, headers=link_header(request, [row.id or 0 for row in rows]))


async def dismiss_group(request: Request) -> Response:
    """Delete the caller's notifications in the group; ``{}`` whatever the key names, as Mastodon answers."""
    viewer = await require_user(request, WRITE_SCOPE)
    conditions = _key_conditions(viewer, request.path_params["group_key"])
    if conditions is not None:
        statement = delete(Notification).where(*conditions)
        await request.state.services.db.write(lambda session: session.execute(statement))
    return JSONResponse({})


async def unread_count(request: Request) -> Response:
    """The unread groups (not seen on our notifications page nor passed by the marker; v1's rule), capped
    at ``limit`` (100 by default, at most 1000)."""
    viewer = await require_user(request, READ_SCOPE)
    params = query_params(request)
    conditions = [*filters(viewer, params), col(Notification.read_at).is_(None)]
    groupable = grouped_types(params)
    cap = clamped_limit(params.raw("limit"), default=UNREAD_DEFAULT, maximum=UNREAD_MAX)
    page = Page(max_id=None, since_id=None, min_id=None, limit=cap)
    groups = await request.state.services.db.read(lambda session: _scan(session, conditions, page, groupable))
    return JSONResponse({"count": len(groups)})


routes = [
    Route("/api/v2/notifications", list_groups, methods=["GET"]),
    Route("/api/v2/notifications/unread_count", unread_count, methods=["GET"]),
    Route("/api/v2/notifications/{group_key}", show_group, methods=["GET"]),
    Route("/api/v2/notifications/{group_key}/accounts", group_accounts, methods=["GET"]),
    Route("/api/v2/notifications/{group_key}/dismiss", dismiss_group, methods=["POST"]),
]
