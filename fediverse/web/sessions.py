"""Browser sessions and CSRF protection.

A session is a random token in an HttpOnly, SameSite=Lax cookie (Secure on https); only its SHA-256
is stored (``WebSession``), so a database leak does not hand out sessions. Each session has its own CSRF
token, which every state-changing request must echo in a form field (``csrf_token``) or the
``X-CSRF-Token`` header. Forms used before signing in (sign-in, first-run setup, registration) carry a
double-submit token instead: a random cookie that the form must repeat. A request whose ``Origin`` is
another site is refused either way.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import bindparam, delete, select
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response

from fediverse.core.errors import Forbidden, TooManyRequests, Unauthorized
from fediverse.core.passwords import verify_password
from fediverse.services import Services
from fediverse.web.rate_limits import SignInThrottle
from storage.models import Account, WebSession
from storage.types import utcnow

SESSION_COOKIE = "reverie_session"
SESSION_LIFETIME = timedelta(days=30)
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
FORM_COOKIE = "reverie_form"
CSRF_FAILURE = "The form expired or came from another site; reload the page and try again."


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(services: Services, account: Account, response: Response) -> WebSession:
    """Sign ``account`` in: store a new session and set its cookie on ``response``."""
    assert account.id is not None
    token = secrets.token_urlsafe(32)
    session_row = WebSession(
        token_hash=_hash(token),
        account_id=account.id,
        csrf_token=secrets.token_urlsafe(24),
        expires_at=utcnow() + SESSION_LIFETIME,
    )
    async with services.db.transaction() as session:
        session.add(session_row)
        stored = await session.get(Account, account.id)
        if stored is not None:
            stored.last_active_at = utcnow()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=services.settings.base_url.startswith("https://"),
        path="/",
    )
    return session_row


async def end_session(request: Request, response: Response) -> None:
    """Sign out: forget the session server-side and clear the cookie."""
    services: Services = request.state.services
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with services.db.transaction() as session:
            await session.execute(delete(WebSession).where(col(WebSession.token_hash) == _hash(token)))
    response.delete_cookie(SESSION_COOKIE, path="/")


#: The session a cookie names and its account, if the session has not expired (one unit of work a request).
_SIGNED_IN = (
    select(WebSession, Account)
    .join(Account, col(Account.id) == col(WebSession.account_id))
    .where(col(WebSession.token_hash) == bindparam("token_hash"), col(WebSession.expires_at) > bindparam("now"))
)


async def current_session(request: Request) -> tuple[WebSession, Account] | None:
    """The signed-in session and account, or ``None``. Cached on the request."""
    if hasattr(request.state, "web_session"):
        return request.state.web_session  # type: ignore[no-any-return]
    found: tuple[WebSession, Account] | None = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        services: Services = request.state.services
        parameters = {"token_hash": _hash(token), "now": utcnow()}
        row = await services.db.read(lambda session: session.execute(_SIGNED_IN, parameters).first())
        if row is not None and row[1].disabled_at is None:
            found = (row[0], row[1])
    request.state.web_session = found
    return found


async def current_account(request: Request) -> Account | None:
    found = await current_session(request)
    return found[1] if found else None


async def require_account(request: Request) -> Account:
    """The signed-in account, or ``Unauthorized`` (401)."""
    account = await current_account(request)
    if account is None:
        raise Unauthorized("Please sign in.")
    return account


async def require_admin(request: Request) -> Account:
    account = await require_account(request)
    if not account.is_admin:
        raise Forbidden("Only administrators may do this.")
    return account


def check_origin(request: Request) -> None:
    """Refuse a request that a browser says came from another site (``Origin``, else ``Referer``)."""
    services: Services = request.state.services
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return
    parts = urlsplit(origin)
    if f"{parts.scheme}://{parts.netloc}".lower() != services.settings.base_url.lower():
        raise Forbidden(CSRF_FAILURE)


async def check_csrf(request: Request, submitted: str | None = None) -> None:
    """Refuse a state-changing request whose CSRF token (form field or header) is not the session's."""
    found = await current_session(request)
    if found is None:
        raise Unauthorized("Please sign in.")
    check_origin(request)
    token = submitted if submitted is not None else request.headers.get(CSRF_HEADER, "")
    if not token or not hmac.compare_digest(token, found[0].csrf_token):
        raise Forbidden(CSRF_FAILURE)


def form_token(request: Request) -> str:
    """The double-submit token for a form shown before sign-in; ``set_form_cookie`` stores it."""
    existing = request.cookies.get(FORM_COOKIE, "")
    return existing if len(existing) == 32 else secrets.token_urlsafe(24)


def set_form_cookie(request: Request, response: Response, token: str) -> None:
    services: Services = request.state.services
    response.set_cookie(
        FORM_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=services.settings.base_url.startswith("https://"),
        path="/",
    )


def check_form_token(request: Request, submitted: str) -> None:
    """A form posted before sign-in must repeat the cookie set when it was shown."""
    check_origin(request)
    cookie = request.cookies.get(FORM_COOKIE, "")
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise Forbidden(CSRF_FAILURE)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def authenticate(request: Request, throttle: SignInThrottle, username: str, password: str) -> Account | None:
    """The account when the password matches; ``TooManyRequests`` after too many failures."""
    services: Services = request.state.services
    address = client_address(request)
    wait = await throttle.retry_after(services.db, username, address)
    if wait is not None:
        minutes = max(1, round(wait / 60))
        raise TooManyRequests(
            f"Too many sign-in attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            retry_after=wait,
        )
    async with services.db.session() as session:
        account = await session.scalar(select(Account).where(col(Account.username) == username))
    # Unknown and disabled accounts are checked too (against a stand-in hash), so they take as long.
    hash_to_check = account.password_hash if account is not None and account.disabled_at is None else None
    if not await verify_password(hash_to_check, password):
        await throttle.record_failure(services.db, username, address)
        return None
    await throttle.record_success(services.db, username, address)
    return account
