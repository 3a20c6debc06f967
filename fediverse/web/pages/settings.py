"""Settings: the profile (name, bio, avatar, header, follower approval), the password, and the apps
allowed to use the account (decision 0056).

Uploaded images go through the imaging pipeline (decoded, metadata stripped, re-encoded) off the
event loop before anything is stored; a rejected image leaves the rest of the form as typed.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.accounts import change_password
from fediverse.core.errors import BadRequest, PayloadTooLarge
from fediverse.core.passwords import MAX_PASSWORD_LENGTH, password_problem, verify_password
from fediverse.federation.sanitize import html_to_text
from fediverse.imaging import ImageRejected, ImagingOptions, process_image
from fediverse.services import Services
from fediverse.social import actions
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


async def settings_index(_request: Request) -> Response:
    return see_other("/settings/profile")


routes = [
    Route("/settings", settings_index),
    Route("/settings/profile", profile_settings, methods=["GET", "POST"]),
    Route("/settings/account", account_settings, methods=["GET", "POST"]),
    Route("/settings/apps", apps_settings),
    Route("/settings/apps/{app_id:id}/revoke", revoke_app_access, methods=["POST"]),
]
