"""The apps a person let in (Settings → Authorized apps): listing them and taking their access back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session
from sqlmodel import col

from storage.models import OAuthApp, OAuthGrant, OAuthToken


@dataclass
class AuthorizedApp:
    """One app with the account's tokens of it taken together: every scope any of them has, when the
    oldest was issued, when one was last used (to within a few minutes)."""

    id: int
    name: str
    website: str | None
    authorized_at: datetime
    last_used_at: datetime | None = None
    scopes: list[str] = field(default_factory=list)


def authorized_apps(session: Session, account_id: int) -> list[AuthorizedApp]:
    rows = session.execute(
        select(OAuthApp, OAuthToken)
        .join(OAuthToken, col(OAuthToken.app_id) == col(OAuthApp.id))
        .where(col(OAuthToken.account_id) == account_id)
        .order_by(col(OAuthToken.created_at))
    ).all()
    found: dict[int, AuthorizedApp] = {}
    for app, token in rows:
        assert app.id is not None
        entry = found.setdefault(app.id, AuthorizedApp(app.id, app.name, app.website, token.created_at))
        entry.scopes = list(dict.fromkeys([*entry.scopes, *token.scopes.split()]))
        if token.last_used_at is not None and (entry.last_used_at is None or token.last_used_at > entry.last_used_at):
            entry.last_used_at = token.last_used_at
    return list(found.values())


def revoke_app(session: Session, account_id: int, app_id: int) -> int:
    """Deletes the account's tokens of the app and its unused codes; how many tokens there were."""
    session.execute(
        delete(OAuthGrant).where(col(OAuthGrant.account_id) == account_id, col(OAuthGrant.app_id) == app_id)
    )
    result = session.execute(
        delete(OAuthToken).where(col(OAuthToken.account_id) == account_id, col(OAuthToken.app_id) == app_id)
    )
    return cast(CursorResult[Any], result).rowcount
