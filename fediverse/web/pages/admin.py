"""Administration: the instance's name, description and registration mode; invite links; domain blocks;
reports (Flags) to resolve; local accounts to suspend or delete; the Health page. Only administrators get
here."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.accounts import USERNAME_PATTERN
from fediverse.core.domain_blocks import domain_suffixes
from fediverse.core.errors import BadRequest, Conflict, NotFound
from fediverse.core.ids import parse_id
from fediverse.core.instance_settings import InstanceInfo, save_instance_settings
from fediverse.portability.deletion import delete_account, suspend_account, unsuspend_account
from fediverse.reads.health import collect_health, describe_age, describe_bytes
from fediverse.services import Services
from fediverse.web.pages.forms import read_form, see_other, text_field
from fediverse.web.params import path_id
from fediverse.web.rendering import render_page
from fediverse.web.sessions import require_admin
from storage.models import Account, Actor, DomainBlock, Invite, Report
from storage.types import utcnow

INVITE_LIFETIME = timedelta(days=7)


async def admin_page(request: Request) -> Response:
    await require_admin(request)
    services: Services = request.state.services
    async with services.db.session() as session:
        blocks = list(await session.scalars(select(DomainBlock).order_by(DomainBlock.domain)))
        invites = list(
            await session.scalars(
                select(Invite)
                .where((col(Invite.expires_at).is_(None)) | (col(Invite.expires_at) > utcnow()))
                .order_by(col(Invite.created_at).desc())
            )
        )
        reports = list(
            await session.scalars(
                select(Report).order_by(col(Report.resolved_at).is_not(None), col(Report.id).desc()).limit(50)
            )
        )
        actor_ids = {i for r in reports for i in (r.reporter_id, r.target_actor_id) if i is not None}
        actors = {a.id: a for a in await session.scalars(select(Actor).where(col(Actor.id).in_(actor_ids)))}
    return await render_page(
        request,
        "admin.html",
        {
            "blocks": blocks,
            "invites": invites,
            "reports": reports,
            "actors": actors,
            "base_url": services.urls.base_url,
        },
    )


async def health_page(request: Request) -> Response:
    """Queues, the oldest waiting item, failing hosts, media on disk, the database and its schema: what
    ``/healthz``, ``/metrics`` and ``reverie status`` show, at a glance."""
    await require_admin(request)
    services: Services = request.state.services
    report = await collect_health(services.db, services.settings.media_dir, media_max_age=0)
    return await render_page(
        request,
        "admin_health.html",
        {"report": report, "describe_age": describe_age, "describe_bytes": describe_bytes},
        headers={"Cache-Control": "no-store"},
    )


async def save_instance(request: Request) -> Response:
    await require_admin(request)
    services: Services = request.state.services
    form = await read_form(request)
    info = InstanceInfo(
        name=text_field(form, "name", max_length=100, label="Name"),
        description=text_field(form, "description", max_length=2000, label="Description"),
        registrations=text_field(form, "registrations", max_length=16),
    )
    async with services.db.transaction() as session:
        await save_instance_settings(session, info)
    return see_other("/admin?saved=instance")


async def create_invite(request: Request) -> Response:
    admin = await require_admin(request)
    services: Services = request.state.services
    form = await read_form(request)
    uses = text_field(form, "max_uses", max_length=4)
    max_uses = parse_id(uses, maximum=1000) if uses else None
    if uses and max_uses is None:
        raise BadRequest("Uses must be a number from 1 to 1000, or empty for unlimited.")
    async with services.db.transaction() as session:
        session.add(
            Invite(
                code=secrets.token_urlsafe(12),
                created_by_account_id=admin.id or 0,
                max_uses=max_uses,
                expires_at=utcnow() + INVITE_LIFETIME,
            )
        )
    return see_other("/admin#invites")


def _clean_domain(raw: str) -> str:
    domain = raw.strip().lower().removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    if not domain or " " in domain or ("." not in domain and domain != "localhost"):
        raise BadRequest("Type a domain name, like spam.example.")
    return domain_suffixes(domain)[0]


async def block_domain(request: Request) -> Response:
    await require_admin(request)
    services: Services = request.state.services
    form = await read_form(request)
    domain = _clean_domain(text_field(form, "domain", max_length=255, label="Domain"))
    if domain == services.urls.host.split(":")[0]:
        raise BadRequest("You cannot block your own domain.")
    reason = text_field(form, "reason", max_length=1000, label="Reason")
    async with services.db.transaction() as session:
        await session.merge(DomainBlock(domain=domain, reason=reason))
    return see_other("/admin#domain-blocks")


async def unblock_domain(request: Request) -> Response:
    await require_admin(request)
    services: Services = request.state.services
    form = await read_form(request)
    domain = text_field(form, "domain", max_length=255)
    async with services.db.transaction() as session:
        await session.execute(delete(DomainBlock).where(col(DomainBlock.domain) == domain))
    return see_other("/admin#domain-blocks")


async def resolve_report(request: Request) -> Response:
    await require_admin(request)
    services: Services = request.state.services
    await read_form(request)
    async with services.db.transaction() as session:
        report = await session.get(Report, path_id(request, "report_id"))
        if report is None:
            raise NotFound("No such report.")
        report.resolved_at = report.resolved_at or utcnow()
    return see_other("/admin#reports")


async def accounts_page(request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
    """Local accounts with their state, and the forms to suspend, lift a suspension, or delete."""
    await require_admin(request)
    services: Services = request.state.services
    async with services.db.session() as session:
        accounts = list(await session.scalars(select(Account).order_by(col(Account.username))))
    notices = {"suspended": "Suspended.", "unsuspended": "Suspension lifted.", "deleted": "Deleted."}
    notice = notices.get(request.query_params.get("done", ""))
    return await render_page(
        request,
        "admin_accounts.html",
        {"accounts": accounts, "notice": notice, "error": error},
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


async def change_account(request: Request) -> Response:
    """Suspend, lift a suspension, or delete (the form repeats the username to confirm a deletion)."""
    admin = await require_admin(request)
    services: Services = request.state.services
    form = await read_form(request)
    username, action = request.path_params["username"], request.path_params["action"]
    if not USERNAME_PATTERN.fullmatch(username):
        raise NotFound("No such account.")
    if username == admin.username:
        return await accounts_page(request, error="Your own account is changed from your settings.", status_code=400)
    try:
        if action == "suspend":
            await suspend_account(services.db, username)
        elif action == "unsuspend":
            await unsuspend_account(services.db, username)
        elif action == "delete":
            if text_field(form, "confirm", max_length=30) != username:
                raise BadRequest(f"Type {username} to confirm deleting @{username}.")
            await delete_account(services, username)
        else:
            raise NotFound("No such action.")
    except (BadRequest, Conflict) as error:
        return await accounts_page(request, error=str(error), status_code=error.status_code)
    done = {"suspend": "suspended", "unsuspend": "unsuspended", "delete": "deleted"}[action]
    return see_other(f"/admin/accounts?done={done}")


routes = [
    Route("/admin", admin_page),
    Route("/admin/health", health_page),
    Route("/admin/accounts", accounts_page),
    Route("/admin/accounts/{username}/{action}", change_account, methods=["POST"]),
    Route("/admin/instance", save_instance, methods=["POST"]),
    Route("/admin/invites", create_invite, methods=["POST"]),
    Route("/admin/domain-blocks", block_domain, methods=["POST"]),
    Route("/admin/domain-blocks/remove", unblock_domain, methods=["POST"]),
    Route("/admin/reports/{report_id:id}/resolve", resolve_report, methods=["POST"]),
]
