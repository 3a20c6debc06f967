"""Registering client apps (``POST /api/v1/apps``) and checking an app's token
(``GET /api/v1/apps/verify_credentials``), as Mastodon 4.3 does (decision 0056).

Registration is open, as on Mastodon: an app is only a name, the places it may be sent back to, and the
scopes it may ask for; nothing is reachable until a person approves it. Its secret is shown once and
stored as a SHA-256 hash, like tokens.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.errors import Unauthorized, UnprocessableEntity
from fediverse.core.names import clean_display_name
from fediverse.services import Services
from fediverse.web.client_api.auth import caller, hash_token, new_secret, unknown_scopes
from fediverse.web.client_api.params import Params, read_params
from fediverse.web.responses import JSONResponse
from storage.models import OAuthApp

#: The "out of band" redirect URI: the code is shown on a page for the person to copy into the app.
OOB = "urn:ietf:wg:oauth:2.0:oob"
MAX_NAME_LENGTH = 255
MAX_URI_LENGTH = 2000
MAX_REDIRECT_URIS = 20
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
#: Schemes that run or show something in the browser itself instead of handing the code to an app.
_REFUSED_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about"})


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be a redirect URI, or ``None``. Apps' own schemes (``icecubesapp://``,
    ``com.tapbots.Ivory.19300:/request_token/…``) and the out-of-band URI are fine; an http(s) URI needs
    a host; none may have a fragment (RFC 6749 §3.1.2)."""
    if uri == OOB:
        return None
    if len(uri) > MAX_URI_LENGTH:
        return f"Redirect URIs may have at most {MAX_URI_LENGTH} characters."
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in uri):
        return "A redirect URI may not contain spaces or control characters."
    try:
        parts = urlsplit(uri)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return f"{uri} is not a valid URI."
    if not parts.scheme or not _SCHEME.fullmatch(parts.scheme) or not uri[: len(parts.scheme) + 1].endswith(":"):
        return f"{uri} must be an absolute URI."
    if "#" in uri:
        return "A redirect URI may not contain a fragment."
    if parts.scheme in _REFUSED_SCHEMES:
        return f"{parts.scheme}: URIs cannot be redirect URIs."
    if parts.scheme in ("http", "https") and (not parts.hostname or not port_ok):
        return f"{uri} must name a host."
    return None


def redirect_uris_of(app: OAuthApp) -> list[str]:
    return [uri for uri in app.redirect_uris.split("\n") if uri]


def application(app: OAuthApp, *, client_secret: str | None = None) -> dict[str, Any]:
    """Mastodon's ``Application``; with the secret (only right after registration) its
    ``CredentialApplication``."""
    uris = redirect_uris_of(app)
    document: dict[str, Any] = {
        "id": str(app.id),
        "name": app.name,
        "website": app.website,
        "scopes": app.scopes.split(),
        "redirect_uri": "\n".join(uris),
        "redirect_uris": uris,
    }
    if client_secret is not None:
        document |= {"client_id": app.client_id, "client_secret": client_secret, "client_secret_expires_at": 0}
    return document


def _registration(params: Params) -> OAuthApp:
    """The app ``params`` describe, checked (422 naming what is wrong); its secret hash is not set yet."""
    name = clean_display_name(params.text("client_name") or "")
    if not name:
        raise UnprocessableEntity("Validation failed: Application name can't be blank.")
    if len(name) > MAX_NAME_LENGTH:
        raise UnprocessableEntity(f"Validation failed: Application name may have at most {MAX_NAME_LENGTH} characters.")
    uris = params.words("redirect_uris")
    if not uris:
        raise UnprocessableEntity("Validation failed: Redirect URI can't be blank.")
    if len(uris) > MAX_REDIRECT_URIS:
        raise UnprocessableEntity(f"Validation failed: at most {MAX_REDIRECT_URIS} redirect URIs.")
    for uri in uris:
        if problem := redirect_uri_problem(uri):
            raise UnprocessableEntity(f"Validation failed: {problem}")
    scopes = list(dict.fromkeys(" ".join(params.words("scopes")).replace("+", " ").split())) or ["read"]
    if unknown := unknown_scopes(frozenset(scopes)):
        raise UnprocessableEntity(f"Validation failed: unknown scopes: {' '.join(sorted(unknown))}.")
    website = (params.text("website") or "").strip() or None
    if website is not None:
        parts = urlsplit(website)
        if len(website) > 2048 or parts.scheme not in ("http", "https") or not parts.netloc:
            raise UnprocessableEntity("Validation failed: Website must be an http(s) URL.")
    return OAuthApp(
        client_id=new_secret(),
        client_secret_hash="",
        name=name,
        website=website,
        redirect_uris="\n".join(uris),
        scopes=" ".join(scopes),
    )


async def create_app(request: Request) -> Response:
    services: Services = request.state.services
    app = _registration(await read_params(request))
    secret = new_secret()
    app.client_secret_hash = hash_token(secret)

    def store(session: Session) -> OAuthApp:
        session.add(app)
        session.flush()
        return app

    stored = await services.db.write(store)
    return JSONResponse(application(stored, client_secret=secret))


async def verify_app_credentials(request: Request) -> Response:
    """Any valid token of the app, a person's or the app's own; no scope is needed (Mastodon 4.3)."""
    services: Services = request.state.services
    found = await caller(request)
    if found is None:
        raise Unauthorized("The access token is invalid.")
    app_id = found.token.app_id
    app = await services.db.read(lambda session: session.get(OAuthApp, app_id))
    if app is None:
        raise Unauthorized("The access token is invalid.")
    return JSONResponse(application(app))


async def find_app(services: Services, client_id: str) -> OAuthApp | None:
    return await services.db.read(
        lambda session: session.scalars(select(OAuthApp).where(col(OAuthApp.client_id) == client_id)).first()
    )


routes = [
    Route("/api/v1/apps", create_app, methods=["POST"]),
    Route("/api/v1/apps/verify_credentials", verify_app_credentials),
]
