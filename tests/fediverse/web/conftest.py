"""Fixtures for the HTML pages: signing in through the real form, reading CSRF tokens from pages."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from fediverse.core.accounts import create_account
from fediverse.social.actions import publish
from fediverse.social.posts import PostDraft
from storage.models import Account, Post
from tests.conftest import TEST_BASE_URL, run_in_app, services_of

PASSWORD = "correct horse battery"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def form_token_of(html: str) -> str:
    found = _FORM_TOKEN.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; returns the session's CSRF token."""
    page = client.get("/login", headers=BROWSER)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "form_token": form_token_of(page.text), "next": "/"},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/compose", headers=BROWSER).text)


@pytest.fixture
def make_member(client: TestClient) -> Callable[..., Account]:
    """A local account with the test password."""

    def make(username: str, **options: object) -> Account:
        services = services_of(client)

        async def create() -> Account:
            return await create_account(services.db, services.urls, username, password=PASSWORD, **options)  # type: ignore[arg-type]

        return run_in_app(client, create)

    return make


@pytest.fixture
def post_as(client: TestClient) -> Callable[..., Post]:
    """Publish a post (without media) as a local account, through ``fediverse.social.actions``."""

    def make(username: str, **draft: object) -> Post:
        services = services_of(client)

        async def run() -> Post:
            return await publish(services, username, PostDraft(**draft))  # type: ignore[arg-type]

        return run_in_app(client, run)

    return make


def page_url(username: str, post: Post) -> str:
    return f"/@{username}/{post.id}"


__all__ = ["BROWSER", "PASSWORD", "TEST_BASE_URL", "csrf_of", "form_token_of", "page_url", "sign_in"]
