"""Caches across processes (decision 0051): two ``reverie serve`` processes share one database; what one
of them changes, the other stops serving from its cache within about a second."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.faults.harness import wait_for
from tests.fediverse.web.conftest import BROWSER, PASSWORD, csrf_of, form_token_of
from tests.processes import free_port, reverie_server, run_reverie

AS2 = {"Accept": "application/activity+json"}
#: A bound on the wait, far above the one-second stamp check: the box is shared and slow.
WITHIN = 20


def sign_in_over_http(browser: httpx.Client, username: str) -> str:
    page = browser.get("/login", headers=BROWSER)
    response = browser.post(
        "/login",
        data={"username": username, "password": PASSWORD, "form_token": form_token_of(page.text), "next": "/"},
        headers=BROWSER,
    )
    assert response.status_code == 303, response.text
    return csrf_of(browser.get("/compose", headers=BROWSER).text)


def test_a_change_made_through_one_process_is_served_by_the_other(tmp_path: Path, database_url: str) -> None:
    port_a, port_b = free_port(), free_port()
    env = {
        "REVERIE_DATA_DIR": str(tmp_path / "data"),
        "REVERIE_DATABASE_URL": database_url,
        "REVERIE_BASE_URL": f"http://127.0.0.1:{port_a}",
    }
    created = run_reverie("user", "create", "ana", "--admin", "--password-stdin", env=env, stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    with (
        reverie_server("serve", "--port", str(port_a), env=env, port=port_a, log=tmp_path / "a.log") as a,
        reverie_server("serve", "--port", str(port_b), env=env, port=port_b, log=tmp_path / "b.log") as b,
        httpx.Client(base_url=a.base_url) as browser,
        httpx.Client(base_url=b.base_url) as stranger,
    ):
        # Given process B has served (and kept) ana's actor document, her profile and the instance's name
        assert stranger.get("/users/ana", headers=AS2).json()["name"] == "ana"
        assert "Ana Across" not in stranger.get("/@ana", headers=BROWSER).text
        assert stranger.get("/nodeinfo/2.1").json()["metadata"]["nodeName"] != "Second Light"
        # When ana renames herself and the instance through process A
        csrf = sign_in_over_http(browser, "ana")
        renamed = browser.post(
            "/settings/profile", data={"csrf_token": csrf, "display_name": "Ana Across", "bio": ""}, headers=BROWSER
        )
        assert renamed.status_code == 303, renamed.text
        saved = browser.post(
            "/admin/instance",
            data={"csrf_token": csrf, "name": "Second Light", "description": "", "registrations": "open"},
            headers=BROWSER,
        )
        assert saved.status_code == 303, saved.text
        # Then process A serves the change at once
        assert httpx.get(f"{a.base_url}/users/ana", headers=AS2).json()["name"] == "Ana Across"
        # and process B soon after
        wait_for(
            lambda: stranger.get("/users/ana", headers=AS2).json()["name"] == "Ana Across",
            timeout=WITHIN,
            what="B's actor document",
        )
        wait_for(
            lambda: "Ana Across" in stranger.get("/@ana", headers=BROWSER).text, timeout=WITHIN, what="B's profile"
        )
        wait_for(
            lambda: stranger.get("/nodeinfo/2.1").json()["metadata"]["nodeName"] == "Second Light",
            timeout=WITHIN,
            what="B's instance settings",
        )
        assert "Second Light" in stranger.get("/about", headers=BROWSER).text
