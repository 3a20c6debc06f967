"""Sessions, CSRF, sign-in throttling and security headers, as a browser meets them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from fediverse.core.config import Settings
from fediverse.web.app import create_app
from storage.models import Account, Post
from tests.fediverse.web.conftest import BROWSER, PASSWORD, form_token_of, page_url, sign_in


def use_cookie(client: TestClient, session_token: str | None) -> None:
    """Act as the browser holding ``session_token``."""
    client.cookies.clear()
    client.cookies.set("reverie_session", session_token or "")


def test_pages_carry_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/local", headers=BROWSER)
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in response.text and " on" + "click=" not in response.text  # no inline code to allow


def test_session_cookie_is_http_only_and_same_site(client: TestClient, make_member: Callable[..., Account]) -> None:
    make_member("ana")
    page = client.get("/login", headers=BROWSER)
    response = client.post(
        "/login",
        data={"username": "ana", "password": PASSWORD, "form_token": form_token_of(page.text)},
        headers=BROWSER,
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"].lower()
    assert "reverie_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http on loopback


@pytest.fixture
def https_client(make_settings: Callable[..., Settings], database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url, REVERIE_BASE_URL="https://reverie.test")
    with TestClient(create_app(settings), base_url="https://reverie.test") as test_client:
        yield test_client


def test_session_cookie_is_secure_on_https(https_client: TestClient) -> None:
    page = https_client.get("/setup", headers=BROWSER)
    response = https_client.post(
        "/setup",
        data={
            "username": "ana",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "form_token": form_token_of(page.text),
        },
        headers=BROWSER,
        follow_redirects=False,
    )
    assert response.status_code == 303
    session_cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("reverie_session="))
    assert "secure" in session_cookie.lower()
    assert "strict-transport-security" in response.headers


def test_wrong_password_keeps_the_username_and_says_why(
    client: TestClient, make_member: Callable[..., Account]
) -> None:
    make_member("ana")
    page = client.get("/login", headers=BROWSER)
    response = client.post(
        "/login",
        data={"username": "ana", "password": "wrong password", "form_token": form_token_of(page.text)},
        headers=BROWSER,
    )
    assert response.status_code == 400
    assert "do not match" in response.text
    assert 'value="ana"' in response.text
    assert "reverie_session" not in client.cookies


def test_sign_in_is_throttled_after_repeated_failures(client: TestClient, make_member: Callable[..., Account]) -> None:
    make_member("ana")
    token = form_token_of(client.get("/login", headers=BROWSER).text)
    for _ in range(8):
        client.post("/login", data={"username": "ana", "password": "guess", "form_token": token}, headers=BROWSER)
    # Even the right password is refused until the window passes: guessing cannot go on.
    response = client.post(
        "/login", data={"username": "ana", "password": PASSWORD, "form_token": token}, headers=BROWSER
    )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many sign-in attempts" in response.text


def test_sign_in_failures_count_across_web_processes(
    client: TestClient, settings: Settings, make_member: Callable[..., Account]
) -> None:
    """Two apps on one database stand for two ``reverie serve --workers`` processes: guesses made
    through one count against the other, so more processes do not mean more guesses."""
    make_member("ana")
    token = form_token_of(client.get("/login", headers=BROWSER).text)
    for _ in range(8):
        client.post("/login", data={"username": "ana", "password": "guess", "form_token": token}, headers=BROWSER)
    with TestClient(create_app(settings), base_url=str(client.base_url)) as other_process:
        other_token = form_token_of(other_process.get("/login", headers=BROWSER).text)
        response = other_process.post(
            "/login", data={"username": "ana", "password": PASSWORD, "form_token": other_token}, headers=BROWSER
        )
    assert response.status_code == 429


def test_sign_in_form_needs_its_own_token(client: TestClient, make_member: Callable[..., Account]) -> None:
    make_member("ana")
    response = client.post(
        "/login", data={"username": "ana", "password": PASSWORD, "form_token": "forged"}, headers=BROWSER
    )
    assert response.status_code == 403
    assert "reverie_session" not in client.cookies


def test_state_change_without_the_csrf_token_is_refused(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    make_member("ana")
    make_member("ben")
    post = post_as("ana", caption="hello")
    token = sign_in(client, "ben")
    assert client.post(f"/posts/{post.id}/like", data={}, headers=BROWSER).status_code == 403
    assert client.post(f"/posts/{post.id}/like", data={"csrf_token": "x" + token}, headers=BROWSER).status_code == 403
    foreign = {**BROWSER, "Origin": "https://evil.example"}
    assert client.post(f"/posts/{post.id}/like", data={"csrf_token": token}, headers=foreign).status_code == 403
    assert "0</span>" in client.get(page_url("ana", post), headers=BROWSER).text.split('data-count="likes"')[1][:10]
    # The header form (used by scripts) works like the field.
    response = client.post(f"/posts/{post.id}/like", headers={**BROWSER, "X-CSRF-Token": token, "HX-Request": "true"})
    assert response.status_code == 200
    assert 'aria-pressed="true"' in response.text


def test_signing_out_ends_the_session_on_the_server(client: TestClient, make_member: Callable[..., Account]) -> None:
    make_member("ana")
    token = sign_in(client, "ana")
    stolen = client.cookies.get("reverie_session")
    client.post("/logout", data={"csrf_token": token}, headers=BROWSER)
    use_cookie(client, stolen)
    assert client.get("/notifications", headers=BROWSER).status_code == 401


def test_changing_the_password_signs_out_other_browsers(
    client: TestClient, make_member: Callable[..., Account]
) -> None:
    make_member("ana")
    sign_in(client, "ana")
    other_browser = client.cookies.get("reverie_session")
    client.cookies.clear()
    token = sign_in(client, "ana")
    wrong = client.post(
        "/settings/account",
        data={
            "csrf_token": token,
            "current_password": "nope",
            "new_password": "a new passphrase",
            "new_password_again": "a new passphrase",
        },
        headers=BROWSER,
    )
    assert wrong.status_code == 400 and "current password is not right" in wrong.text
    response = client.post(
        "/settings/account",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "a new passphrase",
            "new_password_again": "a new passphrase",
        },
        headers=BROWSER,
    )
    assert response.status_code == 200 and "Password changed" in response.text
    this_browser = client.cookies.get("reverie_session")
    use_cookie(client, other_browser)
    assert client.get("/notifications", headers=BROWSER).status_code == 401
    use_cookie(client, this_browser)
    assert client.get("/notifications", headers=BROWSER).status_code == 200
    client.cookies.clear()
    sign_in(client, "ana", "a new passphrase")
