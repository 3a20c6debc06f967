"""OAuth 2 as apps speak it to Mastodon: registering apps, the consent page, codes with PKCE, tokens,
refreshing, revoking, the metadata document and Settings → Authorized apps. Everything through HTTP,
as an app and a browser would; the database is only read to check that no secret is stored in clear."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select, update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from fediverse.web.client_api.auth import new_token_row, require_scope
from storage.models import Account, OAuthApp, OAuthGrant, OAuthToken
from storage.types import utcnow
from tests.conftest import run_in_app, services_of
from tests.fediverse.web.conftest import BROWSER, make_member, sign_in

__all__ = ["make_member"]

OOB = "urn:ietf:wg:oauth:2.0:oob"
IVORY = "com.tapbots.Ivory.19300:/request_token/8a2b"
APP_REDIRECT = "com.example.reverie:/oauth-callback"


def register(client: TestClient, **fields: Any) -> dict[str, Any]:
    form = {"client_name": "Test app", "redirect_uris": APP_REDIRECT, "scopes": "read write follow push", **fields}
    response = client.post("/api/v1/apps", data=form)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_query(app: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        "client_id": app["client_id"],
        "redirect_uri": app["redirect_uris"][0],
        "response_type": "code",
        "scope": "read write",
        **extra,
    }


def consent(client: TestClient, csrf: str, query: dict[str, str], decision: str = "approve") -> Any:
    """What the consent page's form posts (its hidden fields are the authorization request)."""
    page = client.get("/oauth/authorize?" + urlencode(query), headers=BROWSER)
    assert page.status_code == 200, page.text
    fields = {**query, "csrf_token": csrf, "decision": decision}
    return client.post("/oauth/authorize", data=fields, headers=BROWSER, follow_redirects=False)


def code_of(response: Any) -> str:
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


def trade(client: TestClient, app: dict[str, Any], code: str, **extra: str) -> Any:
    return client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": app["redirect_uris"][0],
            **extra,
        },
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def ana(client: TestClient, make_member: Callable[..., Account]) -> str:
    """ana, signed in in the test client's browser; returns her session's CSRF token."""
    make_member("ana")
    return sign_in(client, "ana")


def user_token(client: TestClient, csrf: str, app: dict[str, Any], scope: str = "read write") -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    query = authorize_query(app, scope=scope, code_challenge=challenge, code_challenge_method="S256")
    answer = trade(client, app, code_of(consent(client, csrf, query)), code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


# Registering apps


def test_apps_register_from_a_form_json_or_the_query_string_with_apps_own_schemes(client: TestClient) -> None:
    uris = [IVORY, "oauth2redirect://x", "icecubesapp://", OOB, "http://127.0.0.1:4000/cb"]
    from_form = register(client, redirect_uris="\n".join(uris), website="https://app.example")
    assert from_form["name"] == "Test app" and from_form["website"] == "https://app.example"
    assert from_form["redirect_uris"] == uris and from_form["redirect_uri"] == "\n".join(uris)
    assert from_form["scopes"] == ["read", "write", "follow", "push"]
    assert from_form["client_secret_expires_at"] == 0
    assert isinstance(from_form["id"], str) and from_form["client_id"] and from_form["client_secret"]

    from_json = client.post(
        "/api/v1/apps", json={"client_name": "masto.js", "redirect_uris": [IVORY, OOB], "scopes": "read"}
    ).json()
    assert from_json["redirect_uris"] == [IVORY, OOB] and from_json["website"] is None
    from_query = client.post("/api/v1/apps?" + urlencode({"client_name": "q", "redirect_uris": OOB})).json()
    assert from_query["scopes"] == ["read"] and from_query["redirect_uris"] == [OOB]
    spaced = register(client, redirect_uris=f"{IVORY} {OOB}", scopes="read:statuses+write:media")
    assert spaced["redirect_uris"] == [IVORY, OOB] and spaced["scopes"] == ["read:statuses", "write:media"]
    listed = client.post("/api/v1/apps", data={"client_name": "l", "redirect_uris[]": [IVORY, OOB]}).json()
    assert listed["redirect_uris"] == [IVORY, OOB]
    assert from_form["client_id"] != from_json["client_id"]


@pytest.mark.parametrize(
    "fields",
    [
        {"client_name": ""},
        {"redirect_uris": ""},
        {"redirect_uris": "https://"},
        {"redirect_uris": "http:/no-host"},
        {"redirect_uris": "https://[::1/cb"},
        {"redirect_uris": "https://app.example:99999/cb"},
        {"redirect_uris": "/relative/callback"},
        {"redirect_uris": "https://app.example/cb#fragment"},
        {"redirect_uris": "javascript:alert(1)"},
        {"scopes": "read admin:everything"},
        {"website": "ftp://app.example"},
        {"client_name": "x" * 256},
    ],
)
def test_bad_registrations_are_refused_with_422(client: TestClient, fields: dict[str, str]) -> None:
    form = {"client_name": "Test app", "redirect_uris": APP_REDIRECT, **fields}
    response = client.post("/api/v1/apps", data=form)
    assert response.status_code == 422, response.text
    assert response.json()["error"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"client_name": 5, "redirect_uris": OOB}, 422),
        ({"client_name": "x", "redirect_uris": [OOB, 3]}, 422),
        ({"client_name": "x", "redirect_uris": OOB, "scopes": {"read": True}}, 422),
        (["not", "an", "object"], 400),
    ],
)
def test_wrongly_typed_json_is_a_client_error(client: TestClient, body: Any, status: int) -> None:
    response = client.post("/api/v1/apps", json=body)
    assert response.status_code == status and response.json()["error"]
    broken = client.post("/api/v1/apps", content=b"{nope", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]


def test_verify_credentials_shows_the_app_to_any_of_its_tokens(client: TestClient) -> None:
    app = register(client, website="https://app.example")
    assert client.get("/api/v1/apps/verify_credentials").status_code == 401
    assert client.get("/api/v1/apps/verify_credentials", headers=bearer("nope")).json() == {
        "error": "The access token is invalid."
    }
    token = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"]},
    ).json()
    shown = client.get("/api/v1/apps/verify_credentials", headers=bearer(token["access_token"])).json()
    assert shown == {
        "id": app["id"],
        "name": "Test app",
        "website": "https://app.example",
        "scopes": ["read", "write", "follow", "push"],
        "redirect_uri": APP_REDIRECT,
        "redirect_uris": [APP_REDIRECT],
    }


def test_the_metadata_document_is_mastodons(client: TestClient) -> None:
    document = client.get("/.well-known/oauth-authorization-server").json()
    base = str(client.base_url).rstrip("/")
    assert document["issuer"] == base + "/"
    assert document["authorization_endpoint"] == base + "/oauth/authorize"
    assert document["token_endpoint"] == base + "/oauth/token"
    assert document["revocation_endpoint"] == base + "/oauth/revoke"
    assert document["app_registration_endpoint"] == base + "/api/v1/apps"
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert set(document["grant_types_supported"]) == {"authorization_code", "client_credentials", "refresh_token"}
    assert {"read", "write", "follow", "push", "profile", "read:statuses"} <= set(document["scopes_supported"])
    assert set(document["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}


# The consent page and the code


def test_signing_in_approving_and_trading_the_code_with_pkce(
    client: TestClient, make_member: Callable[..., Account]
) -> None:
    make_member("ana")
    app = register(client)
    verifier, challenge = pkce_pair()
    query = authorize_query(app, state="xyz", code_challenge=challenge, code_challenge_method="S256")
    # Not signed in: to our login page, which comes back here
    to_login = client.get("/oauth/authorize?" + urlencode(query), headers=BROWSER, follow_redirects=False)
    assert to_login.status_code == 302
    back = parse_qs(urlsplit(to_login.headers["location"]).query)["next"][0]
    assert urlsplit(to_login.headers["location"]).path == "/login" and back.startswith("/oauth/authorize?")
    assert parse_qs(urlsplit(back).query)["code_challenge"] == [challenge]
    csrf = sign_in(client, "ana")
    # The consent page names the app and what it asks for, and lets the form go back to the app's scheme
    page = client.get(back, headers=BROWSER)
    assert page.status_code == 200
    assert "Test app" in page.text and "read" in page.text and "write" in page.text
    assert 'value="approve"' in page.text and 'value="deny"' in page.text
    assert "form-action com.example.reverie: 'self'" in page.headers["content-security-policy"]
    answer = consent(client, csrf, query)
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}:{location.path}" == APP_REDIRECT
    assert parse_qs(location.query)["state"] == ["xyz"]
    code = code_of(answer)
    # The app trades the code, with its verifier, for a token
    token = trade(client, app, code, code_verifier=verifier)
    assert token.status_code == 200, token.text
    assert token.headers["cache-control"] == "no-store"
    body = token.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "read write"
    assert isinstance(body["created_at"], int) and abs(body["created_at"] - utcnow().timestamp()) < 60
    assert body["access_token"] and body["refresh_token"]
    shown = client.get("/api/v1/apps/verify_credentials", headers=bearer(body["access_token"]))
    assert shown.json()["name"] == "Test app"
    # A code works once
    again = trade(client, app, code, code_verifier=verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert again.json()["error_description"]


def test_the_trailing_slash_and_json_bodies_work_too(client: TestClient, ana: str) -> None:
    app = register(client)
    page = client.get("/oauth/authorize/?" + urlencode(authorize_query(app)), headers=BROWSER)
    assert page.status_code == 200 and 'action="/oauth/authorize"' in page.text
    code = code_of(consent(client, ana, authorize_query(app)))
    token = client.post(
        "/oauth/token",
        json={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uri": APP_REDIRECT,
        },
    )
    assert token.status_code == 200 and token.json()["scope"] == "read write"


@pytest.mark.parametrize("verifier", [None, "x" * 43, "short"])
def test_a_wrong_or_missing_verifier_is_refused(client: TestClient, ana: str, verifier: str | None) -> None:
    app = register(client)
    right, challenge = pkce_pair()
    code = code_of(consent(client, ana, authorize_query(app, code_challenge=challenge, code_challenge_method="S256")))
    answer = trade(client, app, code, **({"code_verifier": verifier} if verifier else {}))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert trade(client, app, code, code_verifier=right).status_code == 200


def test_denying_sends_the_app_access_denied(client: TestClient, ana: str) -> None:
    app = register(client)
    answer = consent(client, ana, authorize_query(app, state="s1"), decision="deny")
    assert answer.status_code == 303
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["s1"] and "code" not in query


def test_the_out_of_band_uri_shows_the_code(client: TestClient, ana: str) -> None:
    app = register(client, redirect_uris=OOB)
    answer = consent(client, ana, authorize_query(app))
    assert answer.status_code == 200 and "Your authorization code" in answer.text
    code = answer.text.split('class="copy-field" value="', 1)[1].split('"', 1)[0]
    assert trade(client, app, code).status_code == 200
    denied = consent(client, ana, authorize_query(app), decision="deny")
    assert denied.status_code == 200 and "Access denied" in denied.text


def test_an_unknown_app_or_unregistered_redirect_uri_is_a_page_not_a_redirect(client: TestClient, ana: str) -> None:
    app = register(client)
    for query in (
        authorize_query(app, client_id="nope"),
        authorize_query(app, redirect_uri="https://evil.example/steal"),
        {"response_type": "code"},
    ):
        answer = client.get("/oauth/authorize?" + urlencode(query), headers=BROWSER, follow_redirects=False)
        assert answer.status_code == 400 and "location" not in answer.headers
    # …also when the form is posted
    fields = {
        **authorize_query(app, redirect_uri="https://evil.example/steal"),
        "csrf_token": ana,
        "decision": "approve",
    }
    posted = client.post("/oauth/authorize", data=fields, headers=BROWSER, follow_redirects=False)
    assert posted.status_code == 400 and "location" not in posted.headers


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "read admin:write"}, "invalid_scope"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "a" * 43}, "invalid_request"),
        ({"code_challenge": "too-short", "code_challenge_method": "S256"}, "invalid_request"),
    ],
)
def test_other_faults_go_back_to_the_app(client: TestClient, ana: str, extra: dict[str, str], error: str) -> None:
    app = register(client, scopes="read write")
    answer = client.get(
        "/oauth/authorize?" + urlencode(authorize_query(app, state="s2", **extra)), follow_redirects=False
    )
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == [error] and query["state"] == ["s2"]


def test_an_app_cannot_ask_for_more_than_it_registered(client: TestClient, ana: str) -> None:
    app = register(client, scopes="read")
    answer = client.get(
        "/oauth/authorize?" + urlencode(authorize_query(app, scope="read write")), follow_redirects=False
    )
    assert parse_qs(urlsplit(answer.headers["location"]).query)["error"] == ["invalid_scope"]
    # A granular form of a registered scope is within it
    narrow = user_token(client, ana, app, scope="read:statuses")
    assert narrow["scope"] == "read:statuses"


def test_the_code_is_bound_to_its_redirect_uri_and_app(client: TestClient, ana: str) -> None:
    app = register(client, redirect_uris=f"{APP_REDIRECT}\n{OOB}")
    other = register(client)
    code = code_of(consent(client, ana, authorize_query(app)))
    assert trade(client, app, code, redirect_uri=OOB).json()["error"] == "invalid_grant"
    stolen = trade(client, other, code)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert trade(client, app, code).status_code == 200


def test_an_expired_code_is_refused(client: TestClient, ana: str) -> None:
    app = register(client)
    code = code_of(consent(client, ana, authorize_query(app)))
    services = services_of(client)

    async def expire() -> None:
        async with services.db.transaction() as session:
            await session.execute(update(OAuthGrant).values(expires_at=utcnow() - timedelta(seconds=1)))

    run_in_app(client, expire)
    assert trade(client, app, code).json()["error"] == "invalid_grant"


def test_the_consent_form_needs_the_sessions_csrf_token(client: TestClient, ana: str) -> None:
    app = register(client)
    fields = {**authorize_query(app), "csrf_token": "forged", "decision": "approve"}
    answer = client.post("/oauth/authorize", data=fields, headers=BROWSER, follow_redirects=False)
    assert answer.status_code == 403 and "location" not in answer.headers


def test_force_login_signs_the_browser_out_first(client: TestClient, ana: str) -> None:
    app = register(client)
    query = authorize_query(app, force_login="true")
    answer = client.get("/oauth/authorize?" + urlencode(query), headers=BROWSER, follow_redirects=False)
    assert urlsplit(answer.headers["location"]).path == "/login"
    back = parse_qs(urlsplit(answer.headers["location"]).query)["next"][0]
    assert "force_login" not in back
    assert client.get("/settings/apps", headers=BROWSER).status_code == 401
    # Mastodon.py sends force_login=False: that is not a sign-out
    sign_in(client, "ana")
    kept = client.get("/oauth/authorize?" + urlencode(authorize_query(app, force_login="False")), headers=BROWSER)
    assert kept.status_code == 200


# The token endpoint


def test_client_credentials_give_an_app_token_without_an_account(client: TestClient) -> None:
    app = register(client, scopes="read write")
    credentials = {
        "grant_type": "client_credentials",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
    }
    token = client.post("/oauth/token", data=credentials).json()
    assert token["scope"] == "read" and "refresh_token" not in token
    widened = client.post("/oauth/token", data={**credentials, "scope": "read push"})
    assert widened.status_code == 400 and widened.json()["error"] == "invalid_scope"
    basic = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    with_basic = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "write"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert with_basic.status_code == 200 and with_basic.json()["scope"] == "write"


@pytest.mark.parametrize(
    "credentials",
    [
        {"client_secret": "wrong"},
        {"client_id": "unknown"},
        {"client_secret": ""},
        {"client_id": ""},
    ],
)
def test_wrong_client_credentials_are_401_invalid_client(client: TestClient, credentials: dict[str, str]) -> None:
    app = register(client)
    fields = {"grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"]}
    answer = client.post("/oauth/token", data={**fields, **credentials})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    garbled = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic !!"}
    )
    assert garbled.status_code == 401 and garbled.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"grant_type": "password", "username": "ana", "password": "x"}, "unsupported_grant_type"),
        ({"grant_type": "implicit"}, "unsupported_grant_type"),
        ({}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "made-up"}, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "made-up"}, "invalid_grant"),
    ],
)
def test_token_requests_that_cannot_work_say_why(client: TestClient, fields: dict[str, str], error: str) -> None:
    app = register(client)
    answer = client.post(
        "/oauth/token", data={"client_id": app["client_id"], "client_secret": app["client_secret"], **fields}
    )
    assert answer.status_code == 400 and answer.json()["error"] == error and answer.json()["error_description"]


def test_wrongly_typed_token_requests_are_invalid_request(client: TestClient) -> None:
    answer = client.post("/oauth/token", json={"grant_type": ["client_credentials"]})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert client.post("/oauth/token", json=[1]).json()["error"] == "invalid_request"


def test_refreshing_replaces_both_tokens(client: TestClient, ana: str) -> None:
    app = register(client)
    first = user_token(client, ana, app, scope="read write")
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
    }
    widened = client.post("/oauth/token", data={**refresh, "scope": "read write push"})
    assert widened.status_code == 400 and widened.json()["error"] == "invalid_scope"
    second = client.post("/oauth/token", data=refresh).json()
    assert second["scope"] == "read write" and second["access_token"] != first["access_token"]
    assert client.get("/api/v1/apps/verify_credentials", headers=bearer(first["access_token"])).status_code == 401
    assert client.get("/api/v1/apps/verify_credentials", headers=bearer(second["access_token"])).status_code == 200
    assert client.post("/oauth/token", data=refresh).json()["error"] == "invalid_grant"
    narrowed = client.post("/oauth/token", data={**refresh, "refresh_token": second["refresh_token"], "scope": "read"})
    assert narrowed.json()["scope"] == "read"
    other = register(client)
    stolen = {**refresh, "refresh_token": narrowed.json()["refresh_token"], "client_id": other["client_id"]}
    stolen["client_secret"] = other["client_secret"]
    assert client.post("/oauth/token", data=stolen).json()["error"] == "invalid_grant"


# Revocation


def test_revoking_a_token_stops_it_at_once(client: TestClient, ana: str) -> None:
    app = register(client)
    token = user_token(client, ana, app)
    credentials = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    other = register(client)
    foreign = client.post(
        "/oauth/revoke",
        data={"client_id": other["client_id"], "client_secret": other["client_secret"], "token": token["access_token"]},
    )
    assert foreign.status_code == 403 and foreign.json()["error"] == "unauthorized_client"
    assert client.post("/oauth/revoke", data={**credentials, "token": "unknown"}).json() == {}
    assert client.post("/oauth/revoke", data={**credentials, "token": "x", "client_secret": "bad"}).status_code == 401
    assert client.post("/oauth/revoke", data=credentials).json()["error"] == "invalid_request"
    answer = client.post("/oauth/revoke", data={**credentials, "token": token["access_token"]})
    assert answer.status_code == 200 and answer.json() == {}
    assert client.get("/api/v1/apps/verify_credentials", headers=bearer(token["access_token"])).status_code == 401
    refreshed = client.post(
        "/oauth/token", data={**credentials, "grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    )
    assert refreshed.json()["error"] == "invalid_grant"
    # Revoking by the refresh token works as well
    second = user_token(client, ana, app)
    client.post("/oauth/revoke", data={**credentials, "token": second["refresh_token"]})
    assert client.get("/api/v1/apps/verify_credentials", headers=bearer(second["access_token"])).status_code == 401


# Storage and scopes


def test_no_secret_is_stored_in_clear(client: TestClient, ana: str) -> None:
    app = register(client)
    token = user_token(client, ana, app)
    pending = code_of(consent(client, ana, authorize_query(app)))
    secrets_given = {app["client_secret"], token["access_token"], token["refresh_token"], pending}
    services = services_of(client)

    async def stored_values() -> list[str]:
        async with services.db.session() as session:
            rows: list[Any] = []
            for table in (OAuthApp, OAuthToken, OAuthGrant):
                rows += (await session.execute(select(table))).scalars().all()
        return [str(value) for row in rows for value in row.model_dump().values()]

    stored = run_in_app(client, stored_values)
    assert not any(given in value for given in secrets_given for value in stored)
    assert hashlib.sha256(token["access_token"].encode()).hexdigest() in stored


async def _scope_probe(request: Request) -> Response:
    found = await require_scope(request, request.query_params["scope"])
    return JSONResponse({"scopes": sorted(found.scopes)})


@pytest.mark.parametrize(
    ("granted", "needed", "status"),
    [
        ("read", "read:statuses", 200),
        ("read:statuses", "read:statuses", 200),
        ("read:statuses", "read:accounts", 403),
        ("read", "write:statuses", 403),
        ("write", "write:media", 200),
        ("follow", "write:blocks", 200),
        ("follow", "write:statuses", 403),
        ("read", "profile", 200),
        ("profile", "read:accounts", 403),
    ],
)
def test_a_tokens_scopes_are_enforced(client: TestClient, ana: str, granted: str, needed: str, status: int) -> None:
    """Through a probe endpoint mounted for the test: what an endpoint needing ``needed`` answers."""
    client.app.router.routes.append(Route("/api/v1/scope_probe", _scope_probe))  # type: ignore[attr-defined]
    app = register(client, scopes="read write follow push profile")
    token = user_token(client, ana, app, scope=granted)
    answer = client.get(f"/api/v1/scope_probe?scope={needed}", headers=bearer(token["access_token"]))
    assert answer.status_code == status, answer.text
    if status == 403:
        assert needed in answer.json()["error"]
    assert client.get(f"/api/v1/scope_probe?scope={needed}").status_code == 401


# Settings → Authorized apps


def test_the_authorized_apps_page_lists_and_revokes(
    client: TestClient, ana: str, make_member: Callable[..., Account]
) -> None:
    assert "No app has access" in client.get("/settings/apps", headers=BROWSER).text
    ivory = register(client, client_name="Ivory", website="https://tapbots.com/ivory/")
    token = user_token(client, ana, ivory, scope="read write")
    user_token(client, ana, ivory, scope="read push")
    page = client.get("/settings/apps", headers=BROWSER).text
    assert "Ivory" in page and "https://tapbots.com/ivory/" in page and "read write push" in page
    assert 'href="/settings/apps" aria-current="page"' in page
    assert "/settings/apps" in client.get("/settings/profile", headers=BROWSER).text
    (app_id,) = {part.split("/")[0] for part in page.split('action="/settings/apps/')[1:]}
    # Without the session's CSRF token nothing happens
    forged = client.post(f"/settings/apps/{app_id}/revoke", data={"csrf_token": "x"}, headers=BROWSER)
    assert forged.status_code == 403
    # bob's token of the same app is his: ana's revoking leaves it alone
    bob = make_member("bob")
    services = services_of(client)

    async def mint_for_bob() -> str:
        access, _, row = new_token_row(int(ivory["id"]), bob.id, "read")
        await services.db.write(lambda session: session.add(row))
        return access

    bobs = run_in_app(client, mint_for_bob)
    revoked = client.post(
        f"/settings/apps/{app_id}/revoke", data={"csrf_token": ana}, headers=BROWSER, follow_redirects=False
    )
    assert revoked.status_code == 303 and revoked.headers["location"] == "/settings/apps?revoked=1"
    assert client.get("/api/v1/apps/verify_credentials", headers=bearer(token["access_token"])).status_code == 401
    assert client.get("/api/v1/apps/verify_credentials", headers=bearer(bobs)).status_code == 200
    after = client.get("/settings/apps?revoked=1", headers=BROWSER).text
    assert "No app has access" in after and "Access taken back" in after
    unknown = client.post("/settings/apps/99999999/revoke", data={"csrf_token": ana}, follow_redirects=False)
    assert unknown.status_code == 303
