"""Helpers the HTML routes share: reading a CSRF-checked form, safe redirects, htmx fragments."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from fediverse.core.errors import BadRequest, PayloadTooLarge
from fediverse.web.rendering import render_page
from fediverse.web.sessions import CSRF_FIELD, check_csrf, form_token, require_account, set_form_cookie
from storage.models import Account

#: Largest form body we parse (uploads of avatars and headers included).
MAX_FORM_BYTES = 16 * 1024 * 1024


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def safe_next(value: object, default: str = "/") -> str:
    """A local path to return to; anything else (another site, ``//host``, a scheme) falls back."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    return value if all(32 < ord(ch) < 127 for ch in value) else default


def see_other(url: str) -> RedirectResponse:
    """After a successful POST: go to ``url`` with a GET (303)."""
    return RedirectResponse(url, status_code=303)


def htmx_redirect(request: Request, url: str) -> Response:
    """A full navigation to ``url``, for htmx requests and plain form posts alike."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return see_other(url)


async def read_form(request: Request) -> FormData:
    """The posted form, after checking its size and the session's CSRF token (signed-in forms)."""
    await require_account(request)
    form = await read_form_unchecked(request)
    await check_form_csrf(request, form)
    return form


async def check_form_csrf(request: Request, form: FormData) -> None:
    """The session's CSRF token, from the form's field or else the ``X-CSRF-Token`` header (403)."""
    token = form.get(CSRF_FIELD)
    await check_csrf(request, token if isinstance(token, str) else None)


async def read_form_unchecked(request: Request) -> FormData:
    """The posted form, size-checked only: the caller checks its token (forms shown before sign-in)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        raise PayloadTooLarge(f"The form is too large (at most {MAX_FORM_BYTES // (1024 * 1024)} MB).")
    return await request.form()


async def signed_in_form(request: Request) -> tuple[Account, FormData]:
    account = await require_account(request)
    return account, await read_form(request)


def text_field(form: FormData, name: str, *, max_length: int, label: str | None = None, strip: bool = True) -> str:
    """A text field, or ``BadRequest`` naming it when it is too long (never silently cut)."""
    value = form.get(name, "")
    if isinstance(value, UploadFile):
        raise BadRequest(f"{label or name} must be text.")
    text = value.strip() if strip else value
    if len(text) > max_length:
        raise BadRequest(f"{label or name.replace('_', ' ').capitalize()} may have at most {max_length} characters.")
    return text


def target_field(form: FormData) -> str:
    """The ``target`` of a follow, block or mute form: an actor id, required."""
    target = text_field(form, "target", max_length=2048)
    if not target:
        raise BadRequest("Which account?")
    return target


def checkbox(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1", "yes")


async def render_with_form_token(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    shareable: bool = False,
) -> Response:
    """A page with a form that may be posted before sign-in: it carries a double-submit token."""
    token = form_token(request)
    response = await render_page(
        request,
        template,
        {"form_token": token, **context},
        status_code=status_code,
        headers=headers,
        shareable=shareable,
    )
    set_form_cookie(request, response, token)
    return response
