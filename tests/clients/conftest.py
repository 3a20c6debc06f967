"""Two real Reverie instances and what a person does in a browser to let an app in: sign in, approve.

The client libraries themselves (Mastodon.py, toot, masto.js) do everything else over HTTP, exactly as
they would against Mastodon. Each instance is a `reverie serve` process on 127.0.0.1 with its own
database and data folder; ana lives on A, bob on B.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from PIL import Image

from tests.processes import free_port, reverie_server, run_reverie

PASSWORD = "correct horse battery"


@dataclass
class Instance:
    base_url: str
    env: dict[str, str]

    @property
    def host(self) -> str:
        return self.base_url.removeprefix("http://")

    def reverie(self, *arguments: str, stdin: str | None = None) -> str:
        result = run_reverie(*arguments, env=self.env, stdin=stdin)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def publish(self, username: str, prompt: str, caption: str) -> str:
        """``reverie post``: paint and publish; returns the note's URL as the CLI prints it."""
        return self.reverie("post", username, "--prompt", prompt, "--caption", caption).strip().splitlines()[-1]


@contextmanager
def running_instance(tmp_path: Path, name: str, username: str, database_url: str) -> Iterator[Instance]:
    port = free_port()
    env = {
        "REVERIE_BASE_URL": f"http://127.0.0.1:{port}",
        "REVERIE_DATA_DIR": str(tmp_path / name),
        "REVERIE_DATABASE_URL": database_url,
        "REVERIE_ALLOW_PRIVATE_ADDRESSES": "true",
    }
    instance = Instance(env["REVERIE_BASE_URL"], env)
    instance.reverie("user", "create", username, "--password-stdin", stdin=PASSWORD + "\n")
    with reverie_server("serve", "--port", str(port), env=env, port=port, log=tmp_path / f"{name}.log"):
        yield instance


@pytest.fixture
def instances(tmp_path: Path, database_factory: Callable[[], str]) -> Iterator[tuple[Instance, Instance]]:
    """Instance A (ana) and instance B (bob)."""
    with ExitStack() as stack:
        a = stack.enter_context(running_instance(tmp_path, "a", "ana", database_factory()))
        b = stack.enter_context(running_instance(tmp_path, "b", "bob", database_factory()))
        yield a, b


class _Forms(HTMLParser):
    """The forms of a page: action, method, named fields (hidden inputs and the buttons' values)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append({"action": attributes.get("action", ""), "fields": {}, "buttons": []})
        elif tag == "input" and self.forms and attributes.get("name"):
            if attributes.get("type", "text") in ("hidden", "text", "password"):
                self.forms[-1]["fields"][attributes["name"]] = attributes.get("value", "")
            elif attributes.get("type") == "submit":
                self.forms[-1]["buttons"].append((attributes["name"], attributes.get("value", "")))
        elif tag == "button" and self.forms and attributes.get("name"):
            self.forms[-1]["buttons"].append((attributes["name"], attributes.get("value", "")))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _forms(html: str) -> _Forms:
    parser = _Forms()
    parser.feed(html)
    return parser


def browser_sign_in(browser: httpx.Client, instance: Instance, username: str) -> None:
    """What a person does on our sign-in page."""
    page = browser.get(f"{instance.base_url}/login", headers={"Accept": "text/html"})
    (form,) = [
        form for form in _forms(page.text).forms if "password" in form["fields"] or "form_token" in form["fields"]
    ]
    fields = {**form["fields"], "username": username, "password": PASSWORD, "next": "/"}
    response = browser.post(f"{instance.base_url}/login", data=fields, headers={"Accept": "text/html"})
    assert response.status_code == 303, response.text


def approve(instance: Instance, username: str, authorize_url: str) -> str:
    """Sign in in a fresh 'browser', open the app's authorization URL, press the approve button; returns
    the authorization code (from the redirect, or from the page for the out-of-band URI)."""
    with httpx.Client(follow_redirects=False, timeout=20) as browser:
        browser_sign_in(browser, instance, username)
        page = browser.get(authorize_url, headers={"Accept": "text/html"})
        assert page.status_code == 200, page.text
        forms = [form for form in _forms(page.text).forms if "/oauth/authorize" in form["action"]]
        assert forms, page.text
        form = forms[0]
        approve_button = next(
            (button for button in form["buttons"] if re.search(r"approve|allow|authori", " ".join(button), re.I)),
            None,
        )
        fields = dict(form["fields"])
        if approve_button:
            fields[approve_button[0]] = approve_button[1]
        answer = browser.post(urljoin(authorize_url, form["action"]), data=fields, headers={"Accept": "text/html"})
        if answer.status_code in (302, 303):
            query = parse_qs(urlsplit(answer.headers["location"]).query)
            return query["code"][0]
        assert answer.status_code == 200, answer.text
        found = re.search(r"<(?:code|input)[^>]*?(?:value=\"([^\"]+)\"[^>]*)?>([^<]*)", answer.text)
        assert found, answer.text
        return found.group(1) or found.group(2).strip()


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge), as RFC 7636 says."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def png_bytes(colour: tuple[int, int, int] = (40, 90, 160)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "PNG")
    return buffer.getvalue()
