"""Mastodon.py signs in to a real ``reverie serve`` process through OAuth, as a script would against
Mastodon: it registers its app, builds the authorization URL from our metadata, trades the code the
person's approval gives, checks its credentials and revokes its token. The person's part (signing in
through /login and pressing "Authorize") is a plain HTTP client acting as the browser.

Mastodon.py 2.3 builds no PKCE parameters, so its own flow is the plain code flow; the PKCE leg is
done by hand against the same server."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest
from mastodon import Mastodon

from tests.processes import free_port, reverie_server, run_reverie

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
SCOPES = ["read", "write"]
REDIRECT = "com.example.reverie-oauth:/callback"
#: Mastodon.py reads the server's version from /api/v1/instance on construction and after log_in, and
#: recurses when that is missing; naming the version here keeps this test about OAuth alone.
CLIENT = {"version_check_mode": "none", "mastodon_version": "4.3.0"}
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def server(tmp_path: Path, database_factory: Callable[[], str]) -> Iterator[str]:
    """A running instance with ana (who has a password); yields its base URL."""
    port = free_port()
    env = {
        "REVERIE_BASE_URL": f"http://127.0.0.1:{port}",
        "REVERIE_DATA_DIR": str(tmp_path / "data"),
        "REVERIE_DATABASE_URL": database_factory(),
    }
    created = run_reverie("user", "create", "ana", "--password-stdin", env=env, stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    with reverie_server("serve", "--port", str(port), env=env, port=port, log=tmp_path / "serve.log") as process:
        yield process.base_url


def hidden_fields(html: str) -> dict[str, str]:
    return {name: value.replace("&amp;", "&") for name, value in _HIDDEN.findall(html)}


def approve_in_browser(base_url: str, authorize_url: str) -> str:
    """Open the authorization URL, sign in as ana on the way, press Authorize; the code from the redirect."""
    with httpx.Client(follow_redirects=False, timeout=20) as browser:
        to_login = browser.get(authorize_url, headers={"Accept": "text/html"})
        assert to_login.status_code == 302, to_login.text
        login_page = browser.get(urljoin(base_url, to_login.headers["location"]), headers={"Accept": "text/html"})
        signed_in = browser.post(
            f"{base_url}/login",
            data={**hidden_fields(login_page.text), "username": "ana", "password": PASSWORD},
        )
        assert signed_in.status_code == 303, signed_in.text
        consent_page = browser.get(urljoin(base_url, signed_in.headers["location"]), headers={"Accept": "text/html"})
        assert consent_page.status_code == 200 and "Authorize" in consent_page.text, consent_page.text
        answer = browser.post(
            f"{base_url}/oauth/authorize", data={**hidden_fields(consent_page.text), "decision": "approve"}
        )
        assert answer.status_code == 303, answer.text
        location = answer.headers["location"]
        assert location.startswith(REDIRECT + "?")
        return parse_qs(urlsplit(location).query)["code"][0]


def test_mastodon_py_registers_signs_in_verifies_and_revokes(server: str) -> None:
    client_id, client_secret = Mastodon.create_app(
        "Reverie OAuth test",
        scopes=SCOPES,
        redirect_uris=[REDIRECT],
        website="https://app.example",
        api_base_url=server,
    )
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=server, **CLIENT)
    info = api.oauth_authorization_server_info()
    assert info["code_challenge_methods_supported"] == ["S256"] and "password" not in info["grant_types_supported"]

    url = api.auth_request_url(redirect_uris=REDIRECT, scopes=SCOPES, state="s1", allow_http=True)
    assert url.startswith(f"{server}/oauth/authorize?")
    code = approve_in_browser(server, url)
    access_token = api.log_in(code=code, redirect_uri=REDIRECT, scopes=SCOPES, allow_http=True)

    app = api.app_verify_credentials()
    assert app["name"] == "Reverie OAuth test" and app["scopes"] == SCOPES and app["redirect_uris"] == [REDIRECT]
    raw = httpx.get(f"{server}/api/v1/apps/verify_credentials", headers={"Authorization": f"Bearer {access_token}"})
    assert raw.status_code == 200 and raw.json()["website"] == "https://app.example"

    api.revoke_access_token(allow_http=True)
    gone = httpx.get(f"{server}/api/v1/apps/verify_credentials", headers={"Authorization": f"Bearer {access_token}"})
    assert gone.status_code == 401 and gone.json()["error"]


def test_the_pkce_flow_against_the_running_server(server: str) -> None:
    client_id, client_secret = Mastodon.create_app(
        "PKCE test", scopes=SCOPES, redirect_uris=REDIRECT, api_base_url=server
    )
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "read write",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    code = approve_in_browser(server, f"{server}/oauth/authorize?{urlencode(query)}")
    trade = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": REDIRECT,
    }
    wrong = httpx.post(f"{server}/oauth/token", json={**trade, "code_verifier": "w" * 43})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    token = httpx.post(f"{server}/oauth/token", json={**trade, "code_verifier": verifier})
    assert token.status_code == 200, token.text
    refreshed = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=server, **CLIENT)
    new_access = refreshed.log_in(refresh_token=token.json()["refresh_token"], scopes=SCOPES, allow_http=True)
    assert new_access != token.json()["access_token"]
    assert refreshed.app_verify_credentials()["name"] == "PKCE test"
