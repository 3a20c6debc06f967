"""Settings: the profile (name, bio, avatar, header, follower approval), the password, the apps
allowed to use the account (decision 0056), and moving: aliases and moving to another account
(decision 0061).

Uploaded images go through the imaging pipeline (decoded, metadata stripped, re-encoded) off the
event loop before anything is stored; a rejected image leaves the rest of the form as typed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import col
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitypub.errors import ActivityPubError
from fediverse.core.accounts import change_password
from fediverse.core.errors import BadRequest, PayloadTooLarge, ReverieError
from fediverse.core.passwords import MAX_PASSWORD_LENGTH, password_problem, verify_password
from fediverse.federation.sanitize import html_to_text
from fediverse.imaging import ImageRejected, ImagingOptions, process_image
from fediverse.services import Services
from fediverse.social import actions
from fediverse.social.moves import MOVE_COOLDOWN
from fediverse.social.profiles import MAX_BIO_LENGTH, MAX_DISPLAY_NAME_LENGTH, ProfileChanges
from fediverse.web.client_api.authorized_apps import authorized_apps, revoke_app
from fediverse.web.pages.forms import checkbox, see_other, signed_in_form, text_field
from fediverse.web.params import path_id
from fediverse.web.rendering import render_page
from fediverse.web.sessions import current_session, require_account
from storage.models import Account, Actor, Media, MediaState

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
ACCEPTED_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")


async def _profile_form(request: Request, account: Account, **extra: Any) -> Response:
    services: Services = request.state.services
    async with services.db.session() as session:
        actor = await session.get(Actor, account.actor_id)
    assert actor is not None
    values = {
        "display_name": actor.display_name,
        "bio": html_to_text(actor.summary_html),
        "manually_approves_followers": actor.manually_approves_followers,
    }
    values.update(extra.pop("values", {}))
    return await render_page(
        request,
        "settings_profile.html",
        {"actor": actor, "values": values, "welcome": request.query_params.get("welcome") == "1", **extra},
        status_code=400 if extra.get("error") else 200,
    )


async def store_profile_image(services: Services, account: Account, upload: object, *, avatar: bool) -> Media | None:
    """A processed, stored image from an upload field; ``None`` when the field is empty."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if not data:
        return None
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"Images may be at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    options = ImagingOptions(max_side=1024 if avatar else 2048, display_side=400 if avatar else 1500)
    try:
        processed = await process_image(data, options)
    except ImageRejected as error:
        raise BadRequest(f"That image cannot be used: {error}") from error
    original = await services.media.put(processed.original.data, processed.original.mime)
    display = await services.media.put(processed.display.data, processed.display.mime)
    thumbnail = await services.media.put(processed.thumbnail.data, processed.thumbnail.mime)
    return Media(
        owner_account_id=account.id,
        state=MediaState.ATTACHED,
        mime=processed.display.mime,
        width=processed.width,
        height=processed.height,
        size_bytes=len(processed.original.data),
        original_key=original,
        display_key=display,
        thumbnail_key=thumbnail,
        blurhash=processed.blurhash,
    )


def _profile_values(form: FormData) -> dict[str, Any]:
    return {
        "display_name": text_field(form, "display_name", max_length=MAX_DISPLAY_NAME_LENGTH, label="Display name"),
        "bio": text_field(form, "bio", max_length=MAX_BIO_LENGTH, label="Bio"),
        "manually_approves_followers": checkbox(form, "manually_approves_followers"),
    }


async def profile_settings(request: Request) -> Response:
    services: Services = request.state.services
    if request.method == "GET":
        return await _profile_form(request, await require_account(request))
    account, form = await signed_in_form(request)
    raw = {key: form.get(key, "") for key in ("display_name", "bio")}
    try:
        values = _profile_values(form)
        avatar = await store_profile_image(services, account, form.get("avatar"), avatar=True)
        header = await store_profile_image(services, account, form.get("header"), avatar=False)
    except (BadRequest, PayloadTooLarge) as error:
        return await _profile_form(request, account, error=str(error), values=raw)
    finally:
        await form.close()
    await actions.update_profile(
        services,
        account.username,
        ProfileChanges(
            display_name=values["display_name"],
            bio=values["bio"],
            manually_approves_followers=values["manually_approves_followers"],
            avatar=avatar,
            header=header,
        ),
    )
    return see_other("/settings/profile?saved=1")


async def account_settings(request: Request) -> Response:
    """Password change: the current password is needed; other signed-in browsers are signed out."""
    services: Services = request.state.services
    if request.method == "GET":
        await require_account(request)
        return await render_page(request, "settings_account.html", {"saved": request.query_params.get("saved")})
    account, form = await signed_in_form(request)
    current = text_field(form, "current_password", max_length=MAX_PASSWORD_LENGTH, strip=False)
    new = text_field(form, "new_password", max_length=MAX_PASSWORD_LENGTH, strip=False)
    error = None
    if not await verify_password(account.password_hash, current):
        error = "Your current password is not right."
    elif problem := password_problem(new):
        error = problem
    elif new != form.get("new_password_again"):
        error = "The two new passwords differ."
    if error:
        return await render_page(request, "settings_account.html", {"error": error}, status_code=400)
    found = await current_session(request)
    await change_password(services.db, account.username, new, keep_session=found[0].token_hash if found else None)
    return see_other("/settings/account?saved=1")


async def apps_settings(request: Request) -> Response:
    services: Services = request.state.services
    account = await require_account(request)
    assert account.id is not None
    account_id = account.id
    apps = await services.db.read(lambda session: authorized_apps(session, account_id))
    return await render_page(
        request, "settings_apps.html", {"apps": apps, "revoked": request.query_params.get("revoked")}
    )


async def revoke_app_access(request: Request) -> Response:
    """Takes an app's access back: its tokens of this account stop working at once."""
    services: Services = request.state.services
    account, _form = await signed_in_form(request)
    assert account.id is not None
    account_id, app_id = account.id, path_id(request, "app_id")
    await services.db.write(lambda session: revoke_app(session, account_id, app_id))
    return see_other("/settings/apps?revoked=1")


#: What the moving page shows as the reason, instead of an error page: nothing was changed.
_MOVING_ERRORS = (ReverieError, ActivityPubError)
MAX_HANDLE_LENGTH = 300


async def _moving_page(request: Request, account: Account, *, error: str = "", status_code: int = 200) -> Response:
    services: Services = request.state.services
    aliases = await actions.list_aliases(services, account.username)
    async with services.db.session() as session:
        actor = await session.get(Actor, account.actor_id)
        assert actor is not None
        moved_to = (
            await session.scalar(select(Actor).where(col(Actor.ap_id) == actor.moved_to_ap_id))
            if actor.moved_to_ap_id
            else None
        )
    return await render_page(
        request,
        "settings_moving.html",
        {
            "actor": actor,
            "aliases": aliases,
            "moved_to": moved_to,
            "cooldown_days": MOVE_COOLDOWN.days,
            "done": request.query_params.get("done", ""),
            "error": error,
        },
        status_code=status_code,
    )


async def moving_settings(request: Request) -> Response:
    """``/settings/moving``: the account's aliases, and moving it to another account."""
    return await _moving_page(request, await require_account(request))


def _handle_field(form: FormData) -> str:
    handle = text_field(form, "handle", max_length=MAX_HANDLE_LENGTH, label="Address")
    if not handle:
        raise BadRequest("Type the account's address, like @you@mastodon.social.")
    return handle


async def change_alias(request: Request) -> Response:
    """``POST /settings/aliases`` (add) and ``/settings/aliases/remove``: an account this one moves from,
    found through WebFinger as ``@user@host``."""
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    removing = request.url.path.endswith("/remove")
    try:
        if removing:
            await actions.remove_alias(services, account.username, _handle_field(form))
        else:
            await actions.add_alias(services, account.username, _handle_field(form))
    except _MOVING_ERRORS as error:
        reason = str(error) if isinstance(error, ReverieError) else f"That account could not be found: {error}"
        return await _moving_page(request, account, error=reason, status_code=400)
    return see_other(f"/settings/moving?done={'alias-removed' if removing else 'alias-added'}")


async def move_account(request: Request) -> Response:
    """``POST /settings/move``: confirmed with the password; the new account must list this one."""
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    password = text_field(form, "current_password", max_length=MAX_PASSWORD_LENGTH, strip=False)
    try:
        handle = _handle_field(form)
        if not await verify_password(account.password_hash, password):
            raise BadRequest("Your password is not right.")
        await actions.move_account(services, account.username, handle)
    except _MOVING_ERRORS as error:
        reason = str(error) if isinstance(error, ReverieError) else f"That account could not be found: {error}"
        return await _moving_page(request, account, error=reason, status_code=400)
    return see_other("/settings/moving?done=moved")


async def settings_index(_request: Request) -> Response:
    return see_other("/settings/profile")


routes = [
    Route("/settings", settings_index),
    Route("/settings/profile", profile_settings, methods=["GET", "POST"]),
    Route("/settings/account", account_settings, methods=["GET", "POST"]),
    Route("/settings/apps", apps_settings),
    Route("/settings/apps/{app_id:id}/revoke", revoke_app_access, methods=["POST"]),
    Route("/settings/moving", moving_settings),
    Route("/settings/aliases", change_alias, methods=["POST"]),
    Route("/settings/aliases/remove", change_alias, methods=["POST"]),
    Route("/settings/move", move_account, methods=["POST"]),
]
