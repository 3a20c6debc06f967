"""The web app in a real browser against real ``reverie serve`` processes: sign in, create, like,
follow across instances, and the screenshots shown in the README."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.browser.conftest import Instance, save_screenshots, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

expect = pytest.importorskip("playwright.sync_api").expect


def test_home_feed_shows_followed_pictures_with_placeholders(page: object, here: Instance) -> None:
    sign_in(page, here, "ana")
    first = page.locator(".post-card").first  # type: ignore[attr-defined]
    expect(first.locator(".post-author")).to_contain_text("Mira Solène")
    expect(first.locator("canvas.blurhash[data-painted='1']")).to_have_count(1)
    expect(first.locator("img.is-loaded")).to_have_count(1)
    assert first.locator(".media img").get_attribute("alt")
    # The remote picture loaded from our own origin (fetched into the cache on demand; decision 0059)
    assert str(first.locator(".media img").get_attribute("src")).startswith(f"{here.url}/media/")
    expect(first.locator(".mood-chip")).to_be_visible()
    save_screenshots(page, "home")


def test_remote_profile_grid_and_post_page(page: object, here: Instance) -> None:
    sign_in(page, here, "ana")
    page.goto(f"{here.url}/federated")  # type: ignore[attr-defined]
    page.locator(".post-author").first.click()  # type: ignore[attr-defined]
    expect(page.locator("h1#profile-name")).to_have_text("Mira Solène")  # type: ignore[attr-defined]
    expect(page.locator(".grid .tile")).to_have_count(6)  # type: ignore[attr-defined]
    expect(page.locator(".follow-button")).to_have_text("Following")  # type: ignore[attr-defined]
    save_screenshots(page, "profile")
    page.locator(".grid .tile").first.click()  # type: ignore[attr-defined]
    expect(page.locator(".generation")).to_contain_text("Seed")  # type: ignore[attr-defined]
    expect(page.locator(".generation .prompt")).not_to_be_empty()  # type: ignore[attr-defined]
    save_screenshots(page, "post")


def test_mood_post_then_like_without_reload(page: object, here: Instance) -> None:
    sign_in(page, here, "ben")
    page.goto(f"{here.url}/compose")  # type: ignore[attr-defined]
    page.get_by_label("Caption").fill("Rain on the window all afternoon #weather")  # type: ignore[attr-defined]
    page.get_by_role("button", name="melancholy").click()  # type: ignore[attr-defined]
    expect(page.get_by_label("Word")).to_have_value("melancholy")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Publish").click()  # type: ignore[attr-defined]
    expect(page.locator(".post-full .post-content")).to_contain_text("Rain on the window")  # type: ignore[attr-defined]
    expect(page.locator(".post-full .mood-tile")).to_contain_text("melancholy")  # type: ignore[attr-defined]
    post_url = page.url  # type: ignore[attr-defined]
    page.context.clear_cookies()  # type: ignore[attr-defined]
    sign_in(page, here, "ana")
    page.goto(post_url)  # type: ignore[attr-defined]
    page.evaluate("window.stillTheSamePage = true")  # type: ignore[attr-defined]
    like = page.locator(".post-full .action-like")  # type: ignore[attr-defined]
    like.click()
    expect(page.locator(".post-full .action-like")).to_have_attribute("aria-pressed", "true")  # type: ignore[attr-defined]
    expect(page.locator(".post-full .action-like .action-count")).to_have_text("1")  # type: ignore[attr-defined]
    assert page.evaluate("window.stillTheSamePage") is True  # type: ignore[attr-defined]
    # The like survives a reload, and Ben is told.
    page.reload()  # type: ignore[attr-defined]
    expect(page.locator(".post-full .action-like")).to_have_attribute("aria-pressed", "true")  # type: ignore[attr-defined]
    page.context.clear_cookies()  # type: ignore[attr-defined]
    sign_in(page, here, "ben")
    expect(page.locator(".main-nav .badge")).to_have_text("1")  # type: ignore[attr-defined]
    page.goto(f"{here.url}/notifications")  # type: ignore[attr-defined]
    expect(page.locator(".notification").first).to_contain_text("liked your post")  # type: ignore[attr-defined]


def test_generate_with_progress_publish_and_find_it(page: object, here: Instance) -> None:
    sign_in(page, here, "ana")
    page.goto(f"{here.url}/compose")  # type: ignore[attr-defined]
    page.get_by_label("Prompt", exact=True).fill("a lighthouse at dusk, soft watercolor, warm light")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Generate").click()  # type: ignore[attr-defined]
    expect(page.get_by_role("progressbar")).to_be_visible()  # type: ignore[attr-defined]
    expect(page.locator(".variant[aria-checked='true']")).to_have_count(1, timeout=60_000)  # type: ignore[attr-defined]
    expect(page.get_by_label("Image description (alt text)")).not_to_be_empty()  # type: ignore[attr-defined]
    page.get_by_label("Caption").fill("First light #lighthouse")  # type: ignore[attr-defined]
    save_screenshots(page, "compose", reload=False)
    page.get_by_role("button", name="Publish").click()  # type: ignore[attr-defined]
    expect(page.locator(".post-full .post-content")).to_contain_text("First light")  # type: ignore[attr-defined]
    expect(page.locator(".post-full .media img")).to_be_visible()  # type: ignore[attr-defined]
    page.goto(f"{here.url}/@ana")  # type: ignore[attr-defined]
    tile = page.locator(".grid .tile").first  # type: ignore[attr-defined]
    expect(tile.locator("img")).to_be_visible()
    tile.click()
    page.locator(".post-full .action-like").click()  # type: ignore[attr-defined]
    expect(page.locator(".post-full .action-like")).to_have_attribute("aria-pressed", "true")  # type: ignore[attr-defined]


def test_upload_a_picture_describe_it_and_find_it_on_the_profile(page: object, here: Instance, tmp_path: Path) -> None:
    picture = tmp_path / "harbour.png"
    Image.new("RGB", (240, 160), (40, 110, 170)).save(picture)
    sign_in(page, here, "ben")
    page.goto(f"{here.url}/compose")  # type: ignore[attr-defined]
    page.evaluate("window.stillTheSamePage = true")  # type: ignore[attr-defined]
    page.get_by_label("Picture from your device").set_input_files(str(picture))  # type: ignore[attr-defined]
    preview = page.locator("#attachments .attachment img")  # type: ignore[attr-defined]
    expect(preview).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True  # type: ignore[attr-defined]
    # Publishing without a description is gently questioned first.
    page.get_by_role("button", name="Publish").click()  # type: ignore[attr-defined]
    expect(page.locator("#alt-warning")).to_be_visible()  # type: ignore[attr-defined]
    page.get_by_label("Describe picture 1 (alt text)").fill("Blue harbour water at noon")  # type: ignore[attr-defined]
    page.get_by_label("Caption").fill("Harbour blues")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Publish").click()  # type: ignore[attr-defined]
    expect(page.locator(".post-full .post-content")).to_contain_text("Harbour blues")  # type: ignore[attr-defined]
    expect(page.locator(".post-full .media img")).to_have_attribute("alt", "Blue harbour water at noon")  # type: ignore[attr-defined]
    expect(page.locator(".post-full .generation")).to_have_count(0)  # type: ignore[attr-defined]
    page.goto(f"{here.url}/@ben")  # type: ignore[attr-defined]
    expect(page.locator(".grid .tile img").first).to_be_visible()  # type: ignore[attr-defined]


def test_compose_without_generator_offers_mood_posts(page: object, here: Instance) -> None:
    sign_in(page, here, "ana")
    page.goto(f"{here.url}/compose")  # type: ignore[attr-defined]
    if httpx.get(f"{here.url}/api/generator").status_code == 404:
        expect(page.locator("#generator-missing")).to_be_visible()  # type: ignore[attr-defined]
        save_screenshots(page, "compose")
    else:
        expect(page.get_by_label("Style")).to_be_visible()  # type: ignore[attr-defined]


def test_follow_someone_on_another_instance_through_search(page: object, here: Instance, there: Instance) -> None:
    sign_in(page, here, "ana")
    page.goto(f"{here.url}/search")  # type: ignore[attr-defined]
    page.get_by_label("Search").fill(f"@zoe@{there.host}")  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    result = page.locator(".person", has_text=f"@zoe@{there.host}")  # type: ignore[attr-defined]
    expect(result).to_be_visible()
    result.get_by_role("button", name="Follow").click()
    expect(result.locator(".follow-button[aria-pressed='true']")).to_be_visible()
    # Zoe's instance receives the Follow and accepts it (two real processes; bounded wait).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        followers = httpx.get(f"{there.url}/@zoe/followers", headers={"Accept": "text/html"}).text
        if f"@ana@{here.host}" in followers:
            break
        time.sleep(0.2)
    else:
        pytest.fail("Zoe's instance never listed Ana as a follower")
    page.goto(f"{here.url}/@zoe@{there.host}")  # type: ignore[attr-defined]
    expect(page.locator(".follow-button")).to_be_visible()  # type: ignore[attr-defined]


def test_block_from_a_profile_swaps_the_button_in_place(page: object, here: Instance) -> None:
    sign_in(page, here, "ben")
    page.goto(f"{here.url}/@ana")  # type: ignore[attr-defined]
    page.evaluate("window.stillTheSamePage = true")  # type: ignore[attr-defined]
    page.on("dialog", lambda dialog: dialog.accept())  # type: ignore[attr-defined]
    page.locator("#profile-actions .account-menu > summary").click()  # type: ignore[attr-defined]
    page.get_by_role("button", name=f"Block @ana@{here.host}").click()  # type: ignore[attr-defined]
    expect(page.locator(".block-button")).to_have_text("Unblock")  # type: ignore[attr-defined]
    expect(page.locator(".follow-button")).to_have_count(0)  # type: ignore[attr-defined]
    assert page.evaluate("window.stillTheSamePage") is True  # type: ignore[attr-defined]
    # Unblocking brings the follow button back (and leaves the other tests' world as it was).
    page.locator(".block-button").click()  # type: ignore[attr-defined]
    expect(page.locator(".follow-button")).to_be_visible()  # type: ignore[attr-defined]
