"""Blocking, muting and reporting accounts: the profile's and post page's menus, the settings list of
blocked and muted accounts (``/settings/blocks``), and the report form (``/report``).

Every change acts for the signed-in account only (its name comes from the session, never the form) and
is a CSRF-checked form post; htmx upgrades the profile's buttons to swap the action bar in place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.errors import NotFound
from fediverse.core.visibility import visible_to
from fediverse.reads.cards import handle_path
from fediverse.services import Services
from fediverse.social import actions
from fediverse.social.reports import MAX_COMMENT_LENGTH
from fediverse.web.pages.forms import (
    checkbox,
    is_htmx,
    safe_next,
    see_other,
    signed_in_form,
    target_field,
    text_field,
)
from fediverse.web.pages.profiles import load_relationship
from fediverse.web.params import form_ids, query_id
from fediverse.web.rendering import render_page
from fediverse.web.sessions import require_account
from storage.models import Account, Actor, Block, Mute, Post

REPORTABLE_POSTS = 12

_Change = Callable[[Services, str, str], Awaitable[object]]
CHANGES: dict[str, _Change] = {"/block": actions.block, "/unblock": actions.unblock, "/unmute": actions.unmute}


async def change_relation(request: Request) -> Response:
    """``POST /block``, ``/unblock``, ``/mute`` (``hide_notifications``), ``/unmute`` with ``target`` (an
    actor id). An htmx request gets the profile's action bar back."""
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    target = target_field(form)
    if request.url.path == "/mute":
        hide = checkbox(form, "hide_notifications")
        await actions.mute(services, account.username, target, hide_notifications=hide)
    else:
        await CHANGES[request.url.path](services, account.username, target)
    next_url = safe_next(form.get("next"))
    if not is_htmx(request):
        return see_other(next_url)
    async with services.db.session() as session:
        actor, relation = await load_relationship(session, account.actor_id, target)
        profile_account = await session.scalar(select(Account).where(col(Account.actor_id) == actor.id))
    return await render_page(
        request,
        "partials/profile_actions.html",
        {"actor": actor, "account": profile_account, "relationship": relation, "next": next_url},
    )


async def blocked_and_muted(request: Request) -> Response:
    """``/settings/blocks``: the accounts the viewer blocks and mutes, each with a button to lift it."""
    account = await require_account(request)
    services: Services = request.state.services
    async with services.db.session() as session:
        blocked = list(
            await session.scalars(
                select(Actor)
                .join(Block, col(Block.blocked_id) == col(Actor.id))
                .where(col(Block.blocker_id) == account.actor_id)
                .order_by(col(Block.id).desc())
            )
        )
        muted = (
            await session.execute(
                select(Actor, col(Mute.hide_notifications))
                .join(Mute, col(Mute.muted_id) == col(Actor.id))
                .where(col(Mute.muter_id) == account.actor_id)
                .order_by(col(Mute.id).desc())
            )
        ).all()
    return await render_page(
        request, "settings_blocks.html", {"blocked": blocked, "muted": [(row[0], row[1]) for row in muted]}
    )


async def _reported_actor(services: Services, ap_id: str) -> Actor:
    async with services.db.session() as session:
        actor = await session.scalar(select(Actor).where(col(Actor.ap_id) == ap_id, col(Actor.gone_at).is_(None)))
    if actor is None:
        raise NotFound("No such account.")
    return actor


async def report_form(request: Request) -> Response:
    """``GET /report?account=ID[&post=N]``: why, which of their recent posts, and whether to tell their
    server."""
    account = await require_account(request)
    services: Services = request.state.services
    target = await _reported_actor(services, request.query_params.get("account", ""))
    chosen = query_id(request, "post")
    async with services.db.session() as session:
        posts = list(
            await session.scalars(
                select(Post)
                .where(
                    col(Post.author_id) == target.id,
                    col(Post.deleted_at).is_(None),
                    visible_to(account.actor_id, despite_own_blocks=True),
                )
                .order_by(col(Post.id).desc())
                .limit(REPORTABLE_POSTS)
            )
        )
    return await render_page(
        request,
        "report.html",
        {
            "target": target,
            "posts": posts,
            "chosen": chosen,
            "max_comment": MAX_COMMENT_LENGTH,
        },
    )


async def send_report(request: Request) -> Response:
    """``POST /report``: stored for this instance's admins; ``forward`` also sends it to a remote
    account's server, from the instance rather than the reporter."""
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    target = await _reported_actor(services, text_field(form, "account", max_length=2048))
    comment = text_field(form, "comment", max_length=MAX_COMMENT_LENGTH, label="Comment")
    post_ids = form_ids(form.getlist("post"), "post")
    async with services.db.session() as session:
        posts = list(
            await session.scalars(
                select(col(Post.ap_id)).where(
                    col(Post.id).in_(post_ids[:REPORTABLE_POSTS]),
                    col(Post.author_id) == target.id,
                    visible_to(account.actor_id, despite_own_blocks=True),
                )
            )
        )
    await actions.report(
        services,
        account.username,
        target.ap_id,
        comment=comment,
        post_references=posts,
        forward=checkbox(form, "forward"),
    )
    return see_other(f"{handle_path(target, services.urls.host)}?reported=1")


routes = [
    Route("/block", change_relation, methods=["POST"]),
    Route("/unblock", change_relation, methods=["POST"]),
    Route("/mute", change_relation, methods=["POST"]),
    Route("/unmute", change_relation, methods=["POST"]),
    Route("/settings/blocks", blocked_and_muted),
    Route("/report", report_form),
    Route("/report", send_report, methods=["POST"]),
]
