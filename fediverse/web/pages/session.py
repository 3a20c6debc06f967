"""Signing in and out, first-run setup (the first admin, from the browser) and registration."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.accounts import USERNAME_PATTERN, any_account, create_account
from fediverse.core.errors import BadRequest, Conflict, Forbidden
from fediverse.core.instance_settings import get_instance_settings
from fediverse.core.invites import check_invite
from fediverse.core.passwords import MAX_PASSWORD_LENGTH, password_problem
from fediverse.services import Services
from fediverse.web.pages.forms import (
    read_form,
    read_form_unchecked,
    render_with_form_token,
    safe_next,
    see_other,
    text_field,
)
from fediverse.web.rate_limits import SignInThrottle
from fediverse.web.rendering import render_page
from fediverse.web.sessions import (
    authenticate,
    check_form_token,
    current_account,
    end_session,
    start_session,
)
from storage.models import InstanceSetting
from storage.types import utcnow

#: Marks that the first-run admin was created; its primary key makes a concurrent second setup fail.
SETUP_CLAIM_KEY = "setup_claimed_at"


async def _has_accounts(services: Services) -> bool:
    async with services.db.session() as session:
        return await any_account(session)


async def login(request: Request) -> Response:
    services: Services = request.state.services
    next_path = safe_next(request.query_params.get("next"))
    if request.method == "GET":
        if await current_account(request) is not None:
            return see_other(next_path)
        if not await _has_accounts(services):
            return see_other("/setup")
        return await render_with_form_token(request, "login.html", {"next": next_path, "username": ""})
    form = await read_form_unchecked(request)
    check_form_token(request, str(form.get("form_token", "")))
    username = text_field(form, "username", max_length=64).lstrip("@").lower()
    username = username.split("@", 1)[0]
    password = text_field(form, "password", max_length=MAX_PASSWORD_LENGTH, strip=False)
    next_path = safe_next(form.get("next"))
    throttle: SignInThrottle = request.app.state.login_throttle
    account = await authenticate(request, throttle, username, password)
    if account is None:
        return await render_with_form_token(
            request,
            "login.html",
            {"next": next_path, "username": username, "error": "That username and password do not match."},
            status_code=400,
        )
    response = see_other(next_path)
    await start_session(services, account, response)
    return response


async def logout(request: Request) -> Response:
    await read_form(request)
    response = see_other("/")
    await end_session(request, response)
    return response


async def setup(request: Request) -> Response:
    """First run: whoever opens the instance before any account exists creates the admin."""
    services: Services = request.state.services
    if await _has_accounts(services):
        if request.method == "GET":
            return see_other("/login")
        raise Forbidden("This instance is already set up.")
    if request.method == "GET":
        return await render_with_form_token(request, "setup.html", {"username": ""})
    form = await read_form_unchecked(request)
    check_form_token(request, str(form.get("form_token", "")))
    try:
        username, password = _new_credentials(form)
        await _claim_setup(services)
        account = await create_account(services.db, services.urls, username, password=password, is_admin=True)
    except BadRequest as error:
        return await render_with_form_token(
            request, "setup.html", {"username": form.get("username", ""), "error": str(error)}, status_code=400
        )
    response = see_other("/settings/profile?welcome=1")
    await start_session(services, account, response)
    return response


async def _claim_setup(services: Services) -> None:
    try:
        async with services.db.transaction() as session:
            if await any_account(session):
                raise Forbidden("This instance is already set up.")
            session.add(InstanceSetting(key=SETUP_CLAIM_KEY, value=utcnow().isoformat()))
    except IntegrityError as error:
        raise Forbidden("This instance is already set up.") from error


def _new_credentials(form: Any) -> tuple[str, str]:
    username = text_field(form, "username", max_length=30).lower()
    password = text_field(form, "password", max_length=MAX_PASSWORD_LENGTH, strip=False)
    if not USERNAME_PATTERN.fullmatch(username):
        raise BadRequest("Usernames are 1–30 characters: lowercase letters, digits and underscores.")
    if problem := password_problem(password):
        raise BadRequest(problem)
    if password != form.get("password_again", password):
        raise BadRequest("The two passwords differ.")
    return username, password


async def register(request: Request) -> Response:
    """Registration: open to all, or with an invite link (``?invite=CODE``), as the admin chose."""
    services: Services = request.state.services
    async with services.db.session() as session:
        instance = await get_instance_settings(session, services.settings)
    code = request.query_params.get("invite", "")
    if request.method == "POST":
        form = await read_form_unchecked(request)
        check_form_token(request, str(form.get("form_token", "")))
        code = str(form.get("invite", ""))
    if instance.registrations == "closed" or (instance.registrations == "invite" and not code):
        return await render_page(
            request,
            "register.html",
            {"closed": True, "mode": instance.registrations},
            status_code=403 if request.method == "POST" else 200,
        )
    context: dict[str, Any] = {"invite": code, "username": "", "mode": instance.registrations}
    if request.method == "GET":
        return await render_with_form_token(request, "register.html", context)
    try:
        username, password = _new_credentials(form)
        invite = code if instance.registrations == "invite" else None
        if invite is not None:
            async with services.db.session() as session:
                await check_invite(session, invite)  # before the costly key pair; counted with the account
        account = await create_account(services.db, services.urls, username, password=password, invite=invite)
    except (BadRequest, Conflict, Forbidden) as error:
        context |= {"username": form.get("username", ""), "error": str(error)}
        return await render_with_form_token(request, "register.html", context, status_code=error.status_code)
    response = see_other("/settings/profile?welcome=1")
    await start_session(services, account, response)
    return response


def new_invite_code() -> str:
    return secrets.token_urlsafe(12)


routes = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/setup", setup, methods=["GET", "POST"]),
    Route("/register", register, methods=["GET", "POST"]),
]
