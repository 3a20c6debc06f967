"""Fixtures for the client API: tokens minted straight into the database, so that endpoint tests need not
walk the OAuth flow (``test_oauth.py`` walks it with real client libraries)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from fediverse.web.client_api.auth import hash_token, issue_token, new_secret
from storage.models import Account, OAuthApp
from tests.conftest import run_in_app, services_of

ALL = "read write follow push"


@pytest.fixture
def token_for(client: TestClient) -> Callable[..., dict[str, str]]:
    """``token_for(account, scopes)``: the ``Authorization`` header of a fresh token of a test app."""

    def make(account: Account | None, scopes: str = ALL) -> dict[str, str]:
        services = services_of(client)

        async def mint() -> str:
            async with services.db.transaction() as session:
                app = OAuthApp(
                    client_id=new_secret(),
                    client_secret_hash=hash_token(new_secret()),
                    name="Test app",
                    redirect_uris="urn:ietf:wg:oauth:2.0:oob",
                    scopes=scopes,
                )
                session.add(app)
                await session.flush()
                assert app.id is not None
                app_id = app.id
            access, _, _ = await issue_token(services, app_id, account.id if account else None, scopes)
            return access

        return {"Authorization": f"Bearer {run_in_app(client, mint)}"}

    return make
