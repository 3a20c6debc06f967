"""Two real ``reverie serve`` processes on 127.0.0.1 and a headless Chromium driven by Playwright.

Instance "here" has Ana (admin) and Ben, and knows Mira, a remote painter whose pictures come from a
static server (``seed.py``); instance "there" has Zoe, whom Ana follows through search.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.seed import PictureServer, picture_server, seed_remote_posts
from tests.processes import ServerProcess, free_port, reverie_server, run_reverie

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"

if not Path(CHROMIUM).exists() and os.environ.get("CI") != "true":
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@dataclass
class Instance:
    server: ServerProcess
    env: dict[str, str]
    data_dir: Path

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")


def _create_user(env: dict[str, str], name: str, *extra: str) -> None:
    result = run_reverie("user", "create", name, "--password-stdin", *extra, env=env, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr


def _start(tmp: Path, name: str, users: list[tuple[str, ...]]) -> tuple[dict[str, str], Path, int]:
    port = free_port()
    data_dir = tmp / name
    env = {
        "REVERIE_BASE_URL": f"http://127.0.0.1:{port}",
        "REVERIE_DATA_DIR": str(data_dir),
        "REVERIE_ALLOW_PRIVATE_ADDRESSES": "true",
        "REVERIE_INSTANCE_NAME": "Reverie" if name == "here" else "Elsewhere",
    }
    for user in users:
        _create_user(env, *user)
    return env, data_dir, port


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PictureServer]:
    with picture_server(tmp_path_factory.mktemp("pictures")) as server:
        yield server


@pytest.fixture(scope="module")
def there(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    env, data_dir, port = _start(tmp_path_factory.mktemp("there"), "there", [("zoe", "--display-name", "Zoe")])
    with reverie_server("serve", "--port", str(port), env=env, port=port, log=data_dir.parent / "there.log") as server:
        yield Instance(server, env, data_dir)


@pytest.fixture(scope="module")
def here(tmp_path_factory: pytest.TempPathFactory, pictures: PictureServer) -> Iterator[Instance]:
    env, data_dir, port = _start(
        tmp_path_factory.mktemp("here"),
        "here",
        [("ana", "--admin", "--display-name", "Ana Lima"), ("ben", "--display-name", "Ben")],
    )
    seed_remote_posts(f"sqlite:///{data_dir / 'reverie.db'}", pictures, follower="ana")
    with reverie_server("serve", "--port", str(port), env=env, port=port, log=data_dir.parent / "here.log") as server:
        yield Instance(server, env, data_dir)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Module-scoped: Playwright's sync API keeps an event loop on this thread while it runs, which
    other tests' ``asyncio.run`` must not meet."""
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def sign_in(page: object, instance: Instance, username: str) -> None:
    page.goto(f"{instance.url}/login")  # type: ignore[attr-defined]
    page.get_by_label("Username").fill(username)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    page.wait_for_url(f"{instance.url}/")  # type: ignore[attr-defined]


def save_screenshots(page: object, name: str, *, reload: bool = True) -> None:
    """``docs/screenshots/NAME-desktop.png`` and ``NAME-phone.png`` of the page as it is now.

    ``reload=False`` keeps what the page holds (a generated image, typed text) and only resizes it.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = page.url  # type: ignore[attr-defined]
    for width, height, label in ((1280, 900, "desktop"), (390, 844, "phone")):
        page.set_viewport_size({"width": width, "height": height})  # type: ignore[attr-defined]
        if reload:
            page.goto(url)  # type: ignore[attr-defined]
        page.wait_for_load_state("networkidle")  # type: ignore[attr-defined]
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"))  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 1280, "height": 900})  # type: ignore[attr-defined]


__all__ = ["PASSWORD", "Instance", "save_screenshots", "sign_in"]
