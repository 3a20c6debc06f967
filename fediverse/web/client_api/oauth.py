"""OAuth 2 as Mastodon speaks it (decision 0056): the consent page, codes, tokens, revocation, metadata.

An app registered through ``POST /api/v1/apps`` sends the person to ``/oauth/authorize``. Signed in
through our normal login, they see the app's name and the scopes it asks for, and approve or deny.
Approval stores an ``OAuthGrant`` (the code's hash; ten minutes; single use; bound to the app, the
redirect URI and the PKCE challenge) and sends the browser back to the app with the code, or shows the
code for the out-of-band URI. The app trades the code at ``/oauth/token`` for an access token that does
not expire and a refresh token; refreshing replaces both. Errors at the token and revocation endpoints
are RFC 6749's ``{"error", "error_description"}``; errors before we know where to send the person back
(an unknown app, a redirect URI it did not register) are a page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast
from urllib.parse import unquote_plus, urlencode, urlsplit

from sqlalchemy import CursorResult, delete, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fediverse.core.errors import BadRequest, UnprocessableEntity
from fediverse.services import Services
from fediverse.web.client_api.apps import OOB, find_app, redirect_uris_of
from fediverse.web.client_api.auth import ALL_SCOPES, TOP_SCOPES, covers, hash_token, new_secret, new_token_row
from fediverse.web.client_api.params import Params, read_params
from fediverse.web.headers import content_security_policy
from fediverse.web.pages.forms import signed_in_form
from fediverse.web.rendering import render_page
from fediverse.web.responses import JSONResponse
from fediverse.web.sessions import current_account, end_session
from storage.models import Account, OAuthApp, OAuthGrant, OAuthToken
from storage.types import utcnow

GRANT_LIFETIME = timedelta(minutes=10)
GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")
#: RFC 7636: challenges and verifiers are 43–128 unreserved characters.
_PKCE_VALUE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_TRUE = frozenset({"1", "true", "on", "yes"})
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_SCOPE_DESCRIPTIONS = {
    "read": "Read what your account sees: your posts and timelines, follows, bookmarks, notifications",
    "write": "Post, edit and delete, favourite and boost, follow, and change your profile for you",
    "follow": "See and change whom you follow, block and mute",
    "push": "Receive your notifications as push messages",
    "profile": "See your name and picture only",
}


def describe_scope(scope: str) -> str:
    if scope in _SCOPE_DESCRIPTIONS:
        return _SCOPE_DESCRIPTIONS[scope]
    action, _, part = scope.partition(":")
    return f"{'Read' if action == 'read' else 'Change'} your {part.replace('_', ' ')}"


class OAuthError(Exception):
    """An RFC 6749 error of the token or revocation endpoint."""

    def __init__(self, error: str, description: str, status_code: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status_code = error, description, status_code


def _invalid_grant() -> OAuthError:
    return OAuthError(
        "invalid_grant",
        "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI "
        "used in the authorization request, or was issued to another client.",
    )


def _invalid_scope() -> OAuthError:
    return OAuthError("invalid_scope", "The requested scope is invalid, unknown, or malformed.")


def _oauth_error(error: OAuthError) -> Response:
    headers = dict(_NO_STORE)
    if error.status_code == 401:
        headers["WWW-Authenticate"] = 'Basic realm="oauth"'
    return JSONResponse(
        {"error": error.error, "error_description": error.description}, status_code=error.status_code, headers=headers
    )


def _scope_list(value: str | None) -> list[str]:
    return list(dict.fromkeys((value or "").replace("+", " ").split())) or ["read"]


def _within(scopes: list[str], allowed: str) -> bool:
    """Whether every scope asked for is a known one that ``allowed`` covers (``read`` covers ``read:lists``)."""
    granted = frozenset(allowed.split())
    return all(scope in ALL_SCOPES and covers(granted, scope) for scope in scopes)


def _with_query(uri: str, **params: str | None) -> str:
    query = urlencode({name: value for name, value in params.items() if value is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


# The authorization endpoint and its consent page


@dataclass(frozen=True)
class Authorization:
    """A checked authorization request: the app, where to send the person back, what it may do."""

    app: OAuthApp
    redirect_uri: str
    scopes: str
    state: str | None
    code_challenge: str | None


class _Refused(Exception):
    """An authorization request refused after its redirect URI is known: the app hears it there."""

    def __init__(self, redirect_uri: str, state: str | None, error: str, description: str) -> None:
        super().__init__(description)
        self.redirect_uri, self.state, self.error, self.description = redirect_uri, state, error, description


def _field(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    return value if isinstance(value, str) else ""


async def _authorization(services: Services, params: Mapping[str, Any]) -> Authorization:
    """The request in ``params`` (the query, or the consent form), checked. An unknown app or a redirect
    URI it did not register is a ``BadRequest`` page (there is nowhere safe to send the person); other
    faults are ``_Refused`` and go back to the app."""
    client_id = _field(params, "client_id")
    app = await find_app(services, client_id) if client_id else None
    if app is None:
        raise BadRequest("This app is not registered here (unknown client_id).")
    uris = redirect_uris_of(app)
    redirect_uri = _field(params, "redirect_uri") or (uris[0] if len(uris) == 1 else "")
    if redirect_uri not in uris:
        raise BadRequest("The redirect_uri is not one this app registered.")
    state = _field(params, "state") or None
    if _field(params, "response_type") != "code":
        raise _Refused(redirect_uri, state, "unsupported_response_type", "Only response_type=code is supported.")
    scopes = _scope_list(_field(params, "scope"))
    if not _within(scopes, app.scopes):
        raise _Refused(redirect_uri, state, "invalid_scope", "The requested scope is invalid, unknown, or malformed.")
    challenge = _field(params, "code_challenge") or None
    method = _field(params, "code_challenge_method") or None
    if challenge is not None or method is not None:
        if method != "S256":
            raise _Refused(redirect_uri, state, "invalid_request", "Only the S256 code_challenge_method is supported.")
        if challenge is None or not _PKCE_VALUE.fullmatch(challenge):
            raise _Refused(redirect_uri, state, "invalid_request", "The code_challenge is malformed.")
    return Authorization(app, redirect_uri, " ".join(scopes), state, challenge)


def _send_back(refused: _Refused, status_code: int) -> Response:
    if refused.redirect_uri == OOB:
        raise BadRequest(refused.description)
    location = _with_query(
        refused.redirect_uri, error=refused.error, error_description=refused.description, state=refused.state
    )
    return RedirectResponse(location, status_code=status_code)


def _to_login(request: Request) -> Response:
    """To our sign-in page, which comes back here (without ``force_login``, which it has just done)."""
    query = urlencode([(key, value) for key, value in request.query_params.multi_items() if key != "force_login"])
    back = "/oauth/authorize" + (f"?{query}" if query else "")
    return RedirectResponse("/login?" + urlencode({"next": back}), status_code=302)


def _consent_policy(base_url: str, redirect_uri: str) -> str:
    """Our page policy, with the app's scheme added to ``form-action``: browsers apply it to the redirect
    that follows the consent form, and apps are sent back to ``icecubesapp:``, ``http://127.0.0.1``…"""
    policy = content_security_policy(base_url)
    if redirect_uri == OOB:
        return policy
    return policy.replace("form-action ", f"form-action {urlsplit(redirect_uri).scheme}: ", 1)


async def authorize(request: Request) -> Response:
    """``GET /oauth/authorize``: the consent page (after signing in); ``POST``: the person's answer."""
    if request.method == "POST":
        return await _decide(request)
    services: Services = request.state.services
    try:
        authorization = await _authorization(services, request.query_params)
    except _Refused as refused:
        return _send_back(refused, 302)
    account = await current_account(request)
    if account is not None and request.query_params.get("force_login", "").lower() in _TRUE:
        response = _to_login(request)
        await end_session(request, response)
        return response
    if account is None:
        return _to_login(request)
    app = authorization.app
    response = await render_page(
        request,
        "oauth_authorize.html",
        {
            "app": app,
            "authorization": authorization,
            "scopes": [(scope, describe_scope(scope)) for scope in authorization.scopes.split()],
            "out_of_band": authorization.redirect_uri == OOB,
        },
    )
    response.headers["Content-Security-Policy"] = _consent_policy(
        services.settings.base_url, authorization.redirect_uri
    )
    return response


async def _decide(request: Request) -> Response:
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    try:
        authorization = await _authorization(services, form)
    except _Refused as refused:
        return _send_back(refused, 303)
    out_of_band = authorization.redirect_uri == OOB
    if form.get("decision") != "approve":
        if out_of_band:
            return await render_page(request, "oauth_code.html", {"app": authorization.app, "code": None})
        denied = _Refused(
            authorization.redirect_uri, authorization.state, "access_denied", "The person denied the request."
        )
        return _send_back(denied, 303)
    code = await _store_grant(services, authorization, account)
    if out_of_band:
        return await render_page(request, "oauth_code.html", {"app": authorization.app, "code": code})
    return RedirectResponse(_with_query(authorization.redirect_uri, code=code, state=authorization.state), 303)


async def _store_grant(services: Services, authorization: Authorization, account: Account) -> str:
    """A new authorization code for ``account``; expired codes of anyone are dropped on the way."""
    assert authorization.app.id is not None and account.id is not None
    code = new_secret()
    now = utcnow()
    grant = OAuthGrant(
        code_hash=hash_token(code),
        app_id=authorization.app.id,
        account_id=account.id,
        redirect_uri=authorization.redirect_uri,
        scopes=authorization.scopes,
        code_challenge=authorization.code_challenge,
        code_challenge_method="S256" if authorization.code_challenge else None,
        expires_at=now + GRANT_LIFETIME,
    )

    def store(session: Session) -> None:
        session.execute(delete(OAuthGrant).where(col(OAuthGrant.expires_at) < now))
        session.add(grant)

    await services.db.write(store)
    return code


# The token endpoint


@dataclass(frozen=True)
class _Issued:
    access_token: str
    refresh_token: str | None
    row: OAuthToken


async def token(request: Request) -> Response:
    """``POST /oauth/token``: ``authorization_code`` (with PKCE), ``client_credentials``, ``refresh_token``."""
    try:
        params = await read_params(request)
        issued = await _grant(request, params)
    except OAuthError as error:
        return _oauth_error(error)
    except (BadRequest, UnprocessableEntity) as error:
        return _oauth_error(OAuthError("invalid_request", str(error)))
    body: dict[str, Any] = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "scope": issued.row.scopes,
        "created_at": int(issued.row.created_at.timestamp()),
    }
    if issued.refresh_token is not None:
        body["refresh_token"] = issued.refresh_token
    return JSONResponse(body, headers=_NO_STORE)


async def _grant(request: Request, params: Params) -> _Issued:
    services: Services = request.state.services
    grant_type = params.text("grant_type")
    if grant_type == "password":
        raise OAuthError(
            "unsupported_grant_type",
            "The password grant is not supported: sign in through /oauth/authorize (the authorization code flow).",
        )
    if grant_type not in GRANT_TYPES:
        raise OAuthError("unsupported_grant_type", f"grant_type must be one of: {', '.join(GRANT_TYPES)}.")
    app = await _client(request, params)
    app_id = app.id
    assert app_id is not None
    if grant_type == "authorization_code":
        code, redirect_uri, verifier = params.text("code"), params.text("redirect_uri"), params.text("code_verifier")
        if not code:
            raise OAuthError("invalid_request", "code is missing.")
        return await services.db.write(lambda session: _trade_code(session, app_id, code, redirect_uri, verifier))
    if grant_type == "refresh_token":
        refresh = params.text("refresh_token")
        if not refresh:
            raise OAuthError("invalid_request", "refresh_token is missing.")
        scope = params.text("scope")
        return await services.db.write(lambda session: _refresh(session, app_id, refresh, scope))
    scopes = _scope_list(params.text("scope"))
    if not _within(scopes, app.scopes):
        raise _invalid_scope()
    access, _, row = new_token_row(app_id, None, " ".join(scopes), refresh=False)
    await services.db.write(lambda session: session.add(row))
    return _Issued(access, None, row)


async def _client(request: Request, params: Params) -> OAuthApp:
    """The app that authenticates with its id and secret, in the body or as HTTP Basic (RFC 6749 §2.3.1)."""
    client_id, secret = params.text("client_id"), params.text("client_secret")
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            decoded = ""
        user, _, password = decoded.partition(":")
        client_id, secret = unquote_plus(user), unquote_plus(password)
    app = await find_app(request.state.services, client_id) if client_id and secret else None
    if app is None or not secret or not hmac.compare_digest(app.client_secret_hash, hash_token(secret)):
        raise OAuthError(
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication included, "
            "or unsupported authentication method.",
            401,
        )
    return app


def _pkce_ok(grant: OAuthGrant, verifier: str | None) -> bool:
    if grant.code_challenge is None:
        return True
    if verifier is None or not _PKCE_VALUE.fullmatch(verifier):
        return False
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return hmac.compare_digest(digest, grant.code_challenge)


def _deleted_one(session: Session, statement: Any) -> bool:
    """Runs a ``delete``; whether it removed exactly one row (a concurrent request may have been first)."""
    return cast(CursorResult[Any], session.execute(statement)).rowcount == 1


def _trade_code(session: Session, app_id: int, code: str, redirect_uri: str | None, verifier: str | None) -> _Issued:
    """One write unit: the code is checked and used up, and the token made, together."""
    grant = session.get(OAuthGrant, hash_token(code))
    if (
        grant is None
        or grant.app_id != app_id
        or grant.expires_at <= utcnow()
        or (redirect_uri is not None and redirect_uri != grant.redirect_uri)
        or not _pkce_ok(grant, verifier)
        or not _deleted_one(session, delete(OAuthGrant).where(col(OAuthGrant.code_hash) == grant.code_hash))
    ):
        raise _invalid_grant()
    access, refresh, row = new_token_row(app_id, grant.account_id, grant.scopes)
    session.add(row)
    session.flush()
    return _Issued(access, refresh, row)


def _refresh(session: Session, app_id: int, refresh_token: str, scope: str | None) -> _Issued:
    """A new access and refresh token for a refresh token; the old pair stops working (rotation)."""
    old = session.scalars(select(OAuthToken).where(col(OAuthToken.refresh_hash) == hash_token(refresh_token))).first()
    if old is None or old.app_id != app_id:
        raise _invalid_grant()
    scopes = _scope_list(scope) if scope else old.scopes.split()
    if not _within(scopes, old.scopes):
        raise _invalid_scope()
    if not _deleted_one(session, delete(OAuthToken).where(col(OAuthToken.id) == old.id)):
        raise _invalid_grant()
    access, refresh, row = new_token_row(app_id, old.account_id, " ".join(scopes))
    session.add(row)
    session.flush()
    return _Issued(access, refresh, row)


# Revocation and metadata


async def revoke(request: Request) -> Response:
    """``POST /oauth/revoke`` (RFC 7009): the app's own access or refresh token stops working at once.
    An unknown token is a success; another app's token is refused."""
    services: Services = request.state.services
    try:
        params = await read_params(request)
        app = await _client(request, params)
        value = params.text("token")
        if not value:
            raise OAuthError("invalid_request", "token is missing.")
    except OAuthError as error:
        return _oauth_error(error)
    except (BadRequest, UnprocessableEntity) as error:
        return _oauth_error(OAuthError("invalid_request", str(error)))
    assert app.id is not None
    if not await services.db.write(lambda session: _revoke(session, app.id, hash_token(value))):
        return _oauth_error(OAuthError("unauthorized_client", "You are not authorized to revoke this token", 403))
    return JSONResponse({}, headers=_NO_STORE)


def _revoke(session: Session, app_id: int | None, token_hash: str) -> bool:
    """Deletes the token whose access or refresh hash is ``token_hash``; ``False`` if another app's."""
    found = session.scalars(
        select(OAuthToken).where(
            or_(col(OAuthToken.token_hash) == token_hash, col(OAuthToken.refresh_hash) == token_hash)
        )
    ).first()
    if found is None:
        return True
    if found.app_id != app_id:
        return False
    session.delete(found)
    return True


async def metadata(request: Request) -> Response:
    """RFC 8414 metadata, as Mastodon 4.3 serves it (Phanpy turns PKCE on when it lists S256)."""
    services: Services = request.state.services
    base = services.settings.base_url
    return JSONResponse(
        {
            "issuer": f"{base}/",
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "app_registration_endpoint": f"{base}/api/v1/apps",
            "scopes_supported": [*TOP_SCOPES, *sorted(ALL_SCOPES - set(TOP_SCOPES))],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": list(GRANT_TYPES),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }
    )


routes = [
    Route("/oauth/authorize", authorize, methods=["GET", "POST"]),
    Route("/oauth/authorize/", authorize, methods=["GET", "POST"]),
    Route("/oauth/token", token, methods=["POST"]),
    Route("/oauth/revoke", revoke, methods=["POST"]),
    Route("/.well-known/oauth-authorization-server", metadata),
]
