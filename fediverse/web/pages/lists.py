"""Lists in our pages (``/lists``): make one, read its timeline, rename it, change whose replies it shows and
whether its members stay out of home, delete it, and add or remove the accounts one follows — from the list
or from a profile (``/lists/member/:actor``). The rules are ``fediverse.social.lists``'s, as for the apps.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.errors import BadRequest, NotFound
from fediverse.reads.timelines import TimelinePage, Window, list_page
from fediverse.services import Services
from fediverse.social import lists
from fediverse.web.pages.feeds import render_feed
from fediverse.web.pages.forms import checkbox, safe_next, see_other, signed_in_form, text_field
from fediverse.web.params import path_id
from fediverse.web.rendering import render_page
from fediverse.web.sessions import require_account
from storage.models import AccountList, Actor

POLICY_NAMES = {
    "list": "Replies to members of the list",
    "followed": "Replies to anyone you follow",
    "none": "No replies",
}


def _changes(form: FormData) -> lists.ListChanges:
    policy = text_field(form, "replies_policy", max_length=16) or "list"
    return lists.ListChanges(
        title=text_field(form, "title", max_length=lists.MAX_TITLE, label="Title"),
        replies_policy=policy,
        exclusive=checkbox(form, "exclusive"),
    )


async def index(request: Request) -> Response:
    """``GET /lists``: the viewer's lists and a form for a new one; ``POST`` makes it."""
    services: Services = request.state.services
    if request.method == "POST":
        account, form = await signed_in_form(request)
        changes, account_id = _changes(form), account.id or 0
        made = await services.db.write(lambda session: lists.create_list(session, account_id, changes))
        return see_other(f"/lists/{made.id}")
    account = await require_account(request)
    account_id = account.id or 0
    found = await services.db.read(lambda session: lists.owned_lists(session, account_id))
    return await render_page(request, "lists.html", {"lists": found, "policies": POLICY_NAMES})


async def one(request: Request) -> Response:
    """``GET /lists/:id``: the list's timeline with its settings and members; ``POST`` changes the settings."""
    services: Services = request.state.services
    list_id = path_id(request)
    if request.method == "POST":
        account, form = await signed_in_form(request)
        changes, account_id = _changes(form), account.id or 0
        await services.db.write(lambda session: lists.update_list(session, account_id, list_id, changes))
        return see_other(f"/lists/{list_id}")
    account = await require_account(request)
    account_id, actor_id = account.id or 0, account.actor_id

    def load(session: Session) -> tuple[AccountList, list[Actor]]:
        owned = lists.owned_list(session, account_id, list_id)
        return owned, lists.members(session, owned.id, actor_id, limit=None)

    owned, members = await services.db.read(load)

    async def timeline(session: AsyncSession, max_id: int | None) -> TimelinePage:
        return await session.run_sync(list_page, owned, actor_id, Window(max_id=max_id))

    return await render_feed(
        request,
        account,
        timeline,
        {
            "heading": owned.title,
            "list": owned,
            "members": members,
            "policies": POLICY_NAMES,
            "empty_message": "Nothing here yet. Add people you follow to this list.",
        },
        filter_context="home",
        template="list.html",
    )


async def delete(request: Request) -> Response:
    services: Services = request.state.services
    account, _ = await signed_in_form(request)
    list_id, account_id = path_id(request), account.id or 0
    await services.db.write(lambda session: lists.delete_list(session, account_id, list_id))
    return see_other("/lists")


async def change_members(request: Request) -> Response:
    """``POST /lists/:id/members`` with ``actor`` (an actor id) and ``remove`` to take it off; back to
    ``next``."""
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    list_id, account_id, actor_id = path_id(request), account.id or 0, account.actor_id
    raw = text_field(form, "actor", max_length=20)
    if not raw.isdigit():
        raise BadRequest("Which account?")
    member = int(raw)
    if checkbox(form, "remove"):
        await services.db.write(lambda session: lists.remove_members(session, account_id, list_id, [member]))
    else:
        await services.db.write(lambda session: lists.add_members(session, account_id, actor_id, list_id, [member]))
    return see_other(safe_next(form.get("next"), f"/lists/{list_id}"))


async def member(request: Request) -> Response:
    """``GET /lists/member/:actor``: which of the viewer's lists an account they follow is on, each with a
    button to add or remove it (reached from the profile's menu)."""
    services: Services = request.state.services
    account = await require_account(request)
    account_id, actor_id, member_id = account.id or 0, account.actor_id, path_id(request, "actor")

    def load(session: Session) -> tuple[Actor, list[AccountList], set[int]]:
        person = session.get(Actor, member_id)
        if person is None:
            raise NotFound("No such account.")
        on = {item.id for item in lists.lists_with(session, account_id, actor_id, member_id)}
        return person, lists.owned_lists(session, account_id), on

    person, owned, on = await services.db.read(load)
    return await render_page(request, "list_member.html", {"person": person, "lists": owned, "on": on})


routes = [
    Route("/lists", index, methods=["GET", "POST"]),
    Route("/lists/member/{actor:id}", member),
    Route("/lists/{id:id}", one, methods=["GET", "POST"]),
    Route("/lists/{id:id}/delete", delete, methods=["POST"]),
    Route("/lists/{id:id}/members", change_members, methods=["POST"]),
]
