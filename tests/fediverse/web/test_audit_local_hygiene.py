"""Local secrets and sign-in, as the security audit found them: who may read the data folder, how many
accounts one invite admits, and what signing in reveals or lets a stranger do to an account's owner."""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from fediverse.core import passwords
from fediverse.core.config import Settings
from fediverse.studio.signing import SIGNER_FILE, c2pa_available, load_or_create_credentials
from fediverse.web.app import create_app
from storage.models import Account
from tests.fediverse.test_imaging import encode, gradient
from tests.fediverse.web.conftest import BROWSER, PASSWORD, csrf_of, form_token_of, sign_in
from tests.processes import free_port, reverie_server, run_reverie

#: A login shell's usual umask: without care, new files are readable by every local user.
SHELL_UMASK = 0o022


@contextmanager
def shell_umask() -> Iterator[None]:
    """Run (and start processes, which inherit it) under the umask a login shell usually has."""
    previous = os.umask(SHELL_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def readable_by_others(folder: Path) -> list[str]:
    """Everything under ``folder`` (itself included) that its group or other users may use."""
    paths = [folder, *folder.rglob("*")]
    return [f"{path} {mode_of(path):04o}" for path in paths if mode_of(path) & 0o077]


def sign_in_over_http(browser: httpx.Client, username: str, password: str = PASSWORD) -> None:
    page = browser.get("/login", headers=BROWSER)
    response = browser.post(
        "/login",
        data={"username": username, "password": password, "form_token": form_token_of(page.text), "next": "/"},
        headers=BROWSER,
    )
    assert response.status_code == 303, response.text


# W1: the data folder and every file in it are for the server's user alone.


def test_w1_a_new_data_folder_and_everything_served_from_it_are_private(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    env = {"REVERIE_DATA_DIR": str(data), "REVERIE_BASE_URL": f"http://127.0.0.1:{port}"}
    with shell_umask():
        created = run_reverie("user", "create", "ana", "--password-stdin", env=env, stdin=PASSWORD + "\n")
        assert created.returncode == 0, created.stderr
        with (
            reverie_server("serve", "--port", str(port), env=env, port=port, log=tmp_path / "serve.log") as server,
            httpx.Client(base_url=server.base_url) as browser,
        ):
            # Given Ana uploads a picture while the server runs (its database open in WAL mode),
            sign_in_over_http(browser, "ana")
            token = csrf_of(browser.get("/compose", headers=BROWSER).text)
            upload = browser.post(
                "/compose/upload",
                data={"csrf_token": token},
                files={"file": ("holiday.jpg", encode(gradient(64, 48), "JPEG"), "image/jpeg")},
                headers=BROWSER,
            )
            assert upload.status_code == 303, upload.text
            # then the database, its journal files and the picture are for the server's user alone.
            assert {path.name for path in data.iterdir()} >= {"reverie.db", "reverie.db-wal", "reverie.db-shm"}
            assert [path for path in data.rglob("*.jpg")], "the upload was stored"
            assert readable_by_others(data) == []
    assert mode_of(data) == 0o700
    assert mode_of(data / "reverie.db") == 0o600


def test_w1_start_tightens_a_data_folder_left_readable(tmp_path: Path) -> None:
    # Given a data folder an older version left readable by everyone: its database, an uploaded picture
    # in its folders and the C2PA signing key,
    data = tmp_path / "data"
    env = {"REVERIE_DATA_DIR": str(data)}
    assert run_reverie("migrate", env=env).returncode == 0
    picture = data / "media" / "ab" / "cd" / f"abcd{'0' * 60}.png"
    picture.parent.mkdir(parents=True)
    picture.write_bytes(b"picture")
    (data / "c2pa").mkdir()
    (data / "c2pa" / SIGNER_FILE).write_bytes(b"-----BEGIN PRIVATE KEY-----")
    for path in [data, *data.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    # when the server starts (here: migrates),
    started = run_reverie("migrate", env=env)
    assert started.returncode == 0, started.stderr
    # then nothing in it is readable by others any more, and the log says what was tightened.
    assert readable_by_others(data) == []
    assert mode_of(data / "reverie.db") == 0o600 and mode_of(picture) == 0o600 and mode_of(picture.parent) == 0o700
    assert "made them private" in started.stderr
    assert "reverie.db (0644 -> 0600)" in started.stderr and "and 3 more" in started.stderr
    # A second start has nothing left to tighten and says nothing about it.
    assert "made them private" not in run_reverie("migrate", env=env).stderr


@pytest.mark.skipif(not c2pa_available(), reason="needs the c2pa extra")
def test_w1_c2pa_credentials_are_kept_private(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "c2pa"
    folder.parent.mkdir()
    with shell_umask():
        load_or_create_credentials(folder, "Reverie")
    assert mode_of(folder) == 0o700
    assert mode_of(folder / SIGNER_FILE) == 0o600


# W2: an invite admits no more accounts than it allows, however many register at once.


def test_w2_a_single_use_invite_admits_one_of_eight_parallel_registrations(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    env = {
        "REVERIE_DATA_DIR": str(tmp_path / "data"),
        "REVERIE_DATABASE_URL": database_url,
        "REVERIE_BASE_URL": f"http://127.0.0.1:{port}",
        "REVERIE_REGISTRATIONS": "invite",
    }
    created = run_reverie("user", "create", "admin", "--admin", "--password-stdin", env=env, stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    with (
        reverie_server("serve", "--port", str(port), env=env, port=port, log=tmp_path / "serve.log") as server,
        httpx.Client(base_url=server.base_url) as admin,
        ExitStack() as closing,
    ):
        guests = [closing.enter_context(httpx.Client(base_url=server.base_url, timeout=60)) for _ in range(8)]
        sign_in_over_http(admin, "admin")
        made = admin.post(
            "/admin/invites",
            data={"csrf_token": csrf_of(admin.get("/admin", headers=BROWSER).text), "max_uses": "1"},
            headers=BROWSER,
        )
        assert made.status_code == 303
        found = re.search(r"/register\?invite=([A-Za-z0-9_-]+)", admin.get("/admin", headers=BROWSER).text)
        assert found
        code = found.group(1)
        # Given eight people holding the single-use link, each with the form open,
        tokens = [form_token_of(guest.get(f"/register?invite={code}", headers=BROWSER).text) for guest in guests]
        start = threading.Barrier(len(guests))

        def register(number: int) -> httpx.Response:
            start.wait()
            return guests[number].post(
                "/register",
                data={
                    "username": f"guest{number}",
                    "password": PASSWORD,
                    "password_again": PASSWORD,
                    "invite": code,
                    "form_token": tokens[number],
                },
                headers=BROWSER,
            )

        # when they all send it at the same moment,
        with ThreadPoolExecutor(len(guests)) as pool:
            responses = list(pool.map(register, range(len(guests))))
        admin_page = admin.get("/admin", headers=BROWSER).text
    # then one account is made and the others are told the link is used up.
    assert sorted(response.status_code for response in responses) == [303] + [403] * 7
    assert all("not valid any more" in response.text for response in responses if response.status_code == 403)
    assert "1/1 used" in admin_page
    accounts = run_reverie("user", "list", env=env).stdout.split()
    assert len([name for name in accounts if name.startswith("guest")]) == 1, accounts


# W7: signing in neither lets a stranger lock an account's owner out, nor outlives a password change,
# nor tells by its speed which usernames exist.


def test_w7a_failures_from_one_address_do_not_lock_the_owner_out_elsewhere(
    client: TestClient, settings: Settings, make_member: Callable[..., Account]
) -> None:
    make_member("ana")
    # Given a stranger fails to sign in as Ana eight times,
    token = form_token_of(client.get("/login", headers=BROWSER).text)
    for _ in range(8):
        client.post("/login", data={"username": "ana", "password": "guess", "form_token": token}, headers=BROWSER)
    # then the stranger's address may not try again, not even with the right password,
    refused = client.post(
        "/login", data={"username": "ana", "password": PASSWORD, "form_token": token}, headers=BROWSER
    )
    assert refused.status_code == 429
    # but Ana, at her own address, signs in as usual.
    with TestClient(create_app(settings), base_url=str(client.base_url), client=("198.51.100.7", 50000)) as owner:
        sign_in(owner, "ana")
        assert owner.get("/notifications", headers=BROWSER).status_code == 200


def test_w7b_a_password_changed_on_the_command_line_signs_out_every_browser(
    client: TestClient, settings: Settings, make_member: Callable[..., Account]
) -> None:
    make_member("ana")
    sign_in(client, "ana")
    assert client.get("/notifications", headers=BROWSER).status_code == 200
    # When the admin sets Ana's password from the terminal (say, because someone else knew the old one),
    env = {"REVERIE_DATA_DIR": str(settings.data_dir), "REVERIE_DATABASE_URL": settings.database_url}
    changed = run_reverie("user", "password", "ana", "--password-stdin", env=env, stdin="a new passphrase\n")
    assert changed.returncode == 0, changed.stderr
    # then the browser signed in with the old one is signed out, and the new password works.
    assert client.get("/notifications", headers=BROWSER).status_code == 401
    client.cookies.clear()
    sign_in(client, "ana", "a new passphrase")


class CountingHasher:
    """Argon2 as the app uses it, noting each hash a password is checked against."""

    def __init__(self, real: PasswordHasher) -> None:
        self.real = real
        self.checked: list[str] = []

    def hash(self, password: str) -> str:
        return self.real.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.checked.append(password_hash)
        return self.real.verify(password_hash, password)


def test_w7c_an_unknown_username_costs_the_same_password_check_as_a_real_one(
    client: TestClient, make_member: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_member("ana")
    hasher = CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    token = form_token_of(client.get("/login", headers=BROWSER).text)
    for username in ("ana", "nobody"):
        response = client.post(
            "/login", data={"username": username, "password": "wrong guess", "form_token": token}, headers=BROWSER
        )
        assert response.status_code == 400 and "do not match" in response.text
    # Both answers waited for one Argon2 check, with the same algorithm and cost (the hash's parameters).
    assert len(hasher.checked) == 2
    real, stand_in = (password_hash.split("$")[1:4] for password_hash in hasher.checked)
    assert stand_in == real
