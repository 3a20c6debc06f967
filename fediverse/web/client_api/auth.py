"""Who is calling the client API: the bearer token's account and scopes (decision 0056).

Tokens are random strings handed to the app once; only their SHA-256 is stored (``OAuthToken``), like
browser sessions. A token carries the scopes the person approved; each endpoint names the scope it
needs, and a broad scope covers its granular forms (``read`` covers ``read:statuses``). ``follow`` is
Mastodon's older name for the relationship parts of ``read`` and ``write``; ``profile`` only reads the
caller's own account.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlmodel import col
from starlette.requests import Request

from fediverse.core.errors import Forbidden, Unauthorized
from fediverse.services import Services
from storage.models import Account, OAuthToken
from storage.types import utcnow

#: Every scope an app may ask for, broad and granular (Mastodon 4.3's list).
TOP_SCOPES = ("read", "write", "follow", "push", "profile")
GRANULAR_SCOPES = (
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
)
ALL_SCOPES = frozenset((*TOP_SCOPES, *GRANULAR_SCOPES))
#: What ``follow`` grants in Mastodon: reading and changing follows, blocks and mutes.
_FOLLOW_COVERS = frozenset(
    {"read:follows", "read:blocks", "read:mutes", "write:follows", "write:blocks", "write:mutes"}
)
#: A token's last use is written at most this often, not on every call.
_LAST_USED_GRAIN = timedelta(minutes=5)


class InsufficientScope(Forbidden):
    def __init__(self, scope: str) -> None:
        super().__init__(f"This action is outside the authorized scopes (needs {scope}).")


def parse_scopes(text: str | None, *, default: str = "read") -> frozenset[str]:
    """Scopes from a space- (or ``+``-) separated string; unknown ones are refused by the caller."""
    words = (text or default).replace("+", " ").split()
    return frozenset(words)


def unknown_scopes(scopes: frozenset[str]) -> frozenset[str]:
    return scopes - ALL_SCOPES


def covers(granted: frozenset[str], needed: str) -> bool:
    """Whether ``granted`` includes ``needed`` (``read`` covers ``read:statuses``; ``follow`` covers
    the relationship scopes; ``read`` and ``read:accounts`` cover ``profile``)."""
    if needed in granted:
        return True
    top = needed.split(":", 1)[0]
    if top in granted:
        return True
    if needed in _FOLLOW_COVERS and "follow" in granted:
        return True
    return needed == "profile" and bool(granted & {"read", "read:accounts"})


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Caller:
    """A client API request's credentials: its token row and, unless it is an app-only token, the account."""

    token: OAuthToken
    account: Account | None
    scopes: frozenset[str]


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer …`` (or ``access_token`` in the query, as streaming uses)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("access_token") or None


async def find_caller(services: Services, token: str) -> Caller | None:
    """The token's row and account, or ``None`` if it is unknown, revoked or its account disabled."""
    token_hash = hash_token(token)

    async with services.db.session() as session:
        row = (await session.execute(select(OAuthToken).where(col(OAuthToken.token_hash) == token_hash))).scalar()
        if row is None:
            return None
        account = await session.get(Account, row.account_id) if row.account_id is not None else None
    if row.account_id is not None and (account is None or account.disabled_at is not None):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_GRAIN:
        async with services.db.transaction() as session:
            await session.execute(update(OAuthToken).where(col(OAuthToken.id) == row.id).values(last_used_at=now))
    return Caller(token=row, account=account, scopes=parse_scopes(row.scopes))


async def caller(request: Request) -> Caller | None:
    """The request's caller, looked up once per request (``None`` without a valid token)."""
    if "client_api_caller" in request.scope:
        found: Caller | None = request.scope["client_api_caller"]
        return found
    token = bearer_token(request)
    found = await find_caller(request.state.services, token) if token else None
    request.scope["client_api_caller"] = found
    return found


async def require_scope(request: Request, scope: str) -> Caller:
    """A valid token with ``scope`` (401 without a valid token, 403 when the scope is missing)."""
    found = await caller(request)
    if found is None:
        raise Unauthorized("The access token is invalid.")
    if not covers(found.scopes, scope):
        raise InsufficientScope(scope)
    return found


async def require_user(request: Request, scope: str) -> Account:
    """The signed-in account of a user token with ``scope``; an app-only token gets 401 ("This method requires an
    authenticated user")."""
    found = await require_scope(request, scope)
    if found.account is None:
        raise Unauthorized("This method requires an authenticated user.")
    return found.account


async def optional_user(request: Request, scope: str = "read:statuses") -> Account | None:
    """Who reads public things: anonymous without a token, else a token with ``scope`` — a user's, or an
    app's own (``client_credentials``), which reads as a visitor does."""
    if bearer_token(request) is None:
        return None
    return (await require_scope(request, scope)).account


def new_token_row(
    app_id: int, account_id: int | None, scopes: str, *, refresh: bool = True
) -> tuple[str, str | None, OAuthToken]:
    """A new access token (and refresh token unless ``refresh`` is false), in clear, with the row that
    stores their hashes; the caller adds the row in its own transaction."""
    access = new_secret()
    refresh_token = new_secret() if refresh else None
    row = OAuthToken(
        token_hash=hash_token(access),
        refresh_hash=hash_token(refresh_token) if refresh_token else None,
        app_id=app_id,
        account_id=account_id,
        scopes=scopes,
    )
    return access, refresh_token, row


async def issue_token(
    services: Services, app_id: int, account_id: int | None, scopes: str
) -> tuple[str, str, OAuthToken]:
    """A new access token and refresh token; returns both in clear (shown once) and the stored row."""
    access, refresh, row = new_token_row(app_id, account_id, scopes)
    assert refresh is not None
    async with services.db.transaction() as session:
        session.add(row)
    return access, refresh, row
