"""What people see and do on the pages: first run, registration, feeds and paging, likes and follows,
notifications, permissions, and escaping of everything people type."""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image
from sqlalchemy import func, select
from starlette.testclient import TestClient

from fediverse.services import Services
from storage.models import Account, Post, Visibility
from tests.conftest import run_in_app, services_of
from tests.fediverse.web.conftest import BROWSER, PASSWORD, form_token_of, page_url, sign_in

HTMX = {**BROWSER, "HX-Request": "true"}


def test_first_visit_creates_the_admin_then_setup_closes(client: TestClient) -> None:
    # Given an instance without accounts, the start page leads to setup.
    assert client.get("/", headers=BROWSER, follow_redirects=False).headers["location"] == "/setup"
    page = client.get("/setup", headers=BROWSER)
    data = {"username": "ana", "password": PASSWORD, "password_again": PASSWORD, "form_token": form_token_of(page.text)}
    # A bad password is explained and the username kept.
    short = client.post("/setup", data={**data, "password": "short", "password_again": "short"}, headers=BROWSER)
    assert short.status_code == 400 and "at least 8 characters" in short.text and 'value="ana"' in short.text
    response = client.post("/setup", data=data, headers=BROWSER)
    assert response.status_code == 200 and "Welcome!" in response.text
    assert 'href="/admin"' in client.get("/settings/profile", headers=BROWSER).text
    # Then setup is over for everyone.
    client.cookies.clear()
    token = form_token_of(client.get("/login", headers=BROWSER).text)
    again = client.post("/setup", data={**data, "username": "mallory", "form_token": token}, headers=BROWSER)
    assert again.status_code == 403


def test_registration_follows_the_admins_choice(client: TestClient, make_member: Callable[..., Account]) -> None:
    make_member("ana", is_admin=True)

    def register(code: str = "") -> int:
        client.cookies.clear()
        page = client.get(f"/register?invite={code}", headers=BROWSER)
        if "form_token" not in page.text:
            return 403
        data = {"username": "newbie", "password": PASSWORD, "password_again": PASSWORD, "invite": code}
        return client.post(
            "/register", data={**data, "form_token": form_token_of(page.text)}, headers=BROWSER
        ).status_code

    def as_admin(path: str, **data: str) -> str:
        client.cookies.clear()
        token = sign_in(client, "ana")
        return client.post(path, data={"csrf_token": token, **data}, headers=BROWSER).text

    assert register() == 403  # closed by default
    as_admin("/admin/instance", name="Dreams", description="", registrations="invite")
    assert register() == 403  # an invite is needed
    assert register("not-a-code") == 403
    admin_page = as_admin("/admin/invites", max_uses="1")
    code = admin_page.split("/register?invite=")[1].split('"')[0]
    assert register(code) == 200
    assert client.get("/@newbie", headers=BROWSER).status_code == 200
    assert register(code) == 403  # used up
    assert "Dreams" in client.get("/about", headers=BROWSER).text


def test_home_feed_pages_without_repeats_and_shows_boosts(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    make_member("ana")
    make_member("ben")
    make_member("cleo")
    posts = [post_as("ben", caption=f"dream number {n}") for n in range(25)]
    stranger = post_as("cleo", caption="from someone ana does not follow")
    token = sign_in(client, "ana")
    client.post("/follow", data={"csrf_token": token, "target": "http://127.0.0.1:8765/users/ben"}, headers=BROWSER)
    client.post(f"/posts/{stranger.id}/boost", data={"csrf_token": token}, headers=BROWSER)

    first = client.get("/", headers=BROWSER).text
    assert "ana" in first and "boosted" in first and "from someone ana does not follow" in first
    assert "dream number 24" in first and "dream number 6" in first and "dream number 5" not in first
    next_url = first.split('class="load-more" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(next_url, headers=HTMX)
    assert "<html" not in second.text  # only the next slice
    shown = [n for n in range(25) if f"dream number {n}<" in second.text]
    assert shown == [0, 1, 2, 3, 4, 5]
    assert "caught up" in second.text
    assert len(posts) == 25


def test_liking_in_place_notifies_the_author(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    make_member("ana")
    make_member("ben")
    post = post_as("ana", caption="a quiet lake", mood_emoji="🌿", mood_word="calm")
    token = sign_in(client, "ben")
    bar = client.post(f"/posts/{post.id}/like", data={"csrf_token": token}, headers=HTMX)
    assert bar.status_code == 200 and "<html" not in bar.text
    assert "action-like is-on" in bar.text and ">1</span>" in bar.text
    assert f'action="/posts/{post.id}/unlike"' in bar.text
    client.cookies.clear()
    sign_in(client, "ana")
    assert 'aria-label="1 unread"' in client.get("/", headers=BROWSER).text
    notifications = client.get("/notifications", headers=BROWSER).text
    assert "liked your post" in notifications and "a quiet lake" in notifications
    assert "unread" not in client.get("/", headers=BROWSER).text.split("<main")[0]


def test_follow_requests_wait_for_approval(client: TestClient, make_member: Callable[..., Account]) -> None:
    make_member("ana")
    make_member("ben")
    token = sign_in(client, "ana")
    client.post(
        "/settings/profile",
        data={"csrf_token": token, "display_name": "Ana", "bio": "", "manually_approves_followers": "on"},
        headers=BROWSER,
    )
    client.cookies.clear()
    token = sign_in(client, "ben")
    button = client.post(
        "/follow", data={"csrf_token": token, "target": "http://127.0.0.1:8765/users/ana"}, headers=HTMX
    )
    assert "Requested" in button.text
    client.cookies.clear()
    token = sign_in(client, "ana")
    page = client.get("/notifications", headers=BROWSER).text
    assert "asks to follow you" in page
    client.post(
        "/followers/approve", data={"csrf_token": token, "target": "http://127.0.0.1:8765/users/ben"}, headers=BROWSER
    )
    assert (
        "Ben" in client.get("/@ana/followers", headers=BROWSER).text
        or "ben" in client.get("/@ana/followers", headers=BROWSER).text
    )
    assert "1</strong> followers" in client.get("/@ana", headers=BROWSER).text


def test_nobody_deletes_what_is_not_theirs(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    make_member("ana")
    make_member("ben")
    post = post_as("ana", caption="mine")
    token = sign_in(client, "ben")
    response = client.post(f"/posts/{post.id}/delete", data={"csrf_token": token}, headers=BROWSER)
    assert response.status_code == 403
    assert "mine" in client.get(page_url("ana", post), headers=BROWSER).text
    assert (
        "Delete" not in client.get(page_url("ana", post), headers=BROWSER).text.split("<main")[1].split("reply-form")[0]
    )
    client.cookies.clear()
    token = sign_in(client, "ana")
    deleted = client.post(f"/posts/{post.id}/delete", data={"csrf_token": token}, headers=BROWSER)
    assert deleted.status_code == 200
    assert client.get(page_url("ana", post), headers=BROWSER).status_code == 404


def test_private_posts_and_admin_pages_stay_private(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    make_member("ana", is_admin=True)
    make_member("ben")
    secret = post_as("ana", caption="followers only", visibility=Visibility.FOLLOWERS)
    assert client.get(page_url("ana", secret), headers=BROWSER).status_code == 404
    assert "followers only" not in client.get("/@ana", headers=BROWSER).text
    assert client.post("/admin/domain-blocks", data={"domain": "spam.example"}, headers=BROWSER).status_code == 401
    token = sign_in(client, "ben")
    assert client.get(page_url("ana", secret), headers=BROWSER).status_code == 404
    assert client.post(f"/posts/{secret.id}/like", data={"csrf_token": token}, headers=BROWSER).status_code == 404
    assert client.get("/admin", headers=BROWSER).status_code == 403
    blocked = client.post("/admin/domain-blocks", data={"csrf_token": token, "domain": "spam.example"}, headers=BROWSER)
    assert blocked.status_code == 403
    client.post("/follow", data={"csrf_token": token, "target": "http://127.0.0.1:8765/users/ana"}, headers=BROWSER)
    assert "followers only" in client.get(page_url("ana", secret), headers=BROWSER).text


def test_what_people_type_is_escaped_everywhere(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    make_member("ana", display_name=evil)
    post = post_as("ana", caption=f"caption {evil}", mood_word="<b>bold</b>", content_warning="<i>cw</i>")
    token = sign_in(client, "ana")
    client.post("/settings/profile", data={"csrf_token": token, "display_name": evil, "bio": evil}, headers=BROWSER)
    for path in ["/", "/local", "/@ana", page_url("ana", post), "/search?q=ana", "/settings/profile"]:
        html = client.get(path, headers=BROWSER).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold</b>" not in html, path
        assert "&lt;script&gt;" in html, path
    assert "&lt;i&gt;cw&lt;/i&gt;" in client.get(page_url("ana", post), headers=BROWSER).text


def test_uploaded_avatar_is_cleaned_and_shown(client: TestClient, make_member: Callable[..., Account]) -> None:
    make_member("ana")
    token = sign_in(client, "ana")
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 120, 90)).save(buffer, "JPEG", exif=exif.tobytes())
    response = client.post(
        "/settings/profile",
        data={"csrf_token": token, "display_name": "Ana", "bio": "Painter of weather."},
        files={"avatar": ("me.jpg", buffer.getvalue(), "image/jpeg")},
        headers=BROWSER,
    )
    assert response.status_code == 200 and "Saved" in response.text
    profile = client.get("/@ana", headers=BROWSER).text
    assert "Painter of weather." in profile
    key = profile.split('src="http://127.0.0.1:8765/media/')[1].split('"')[0]
    stored = (services_of(client).settings.media_dir / key).read_bytes()
    assert b"SecretCameraMaker" not in stored
    broken = client.post(
        "/settings/profile",
        data={"csrf_token": token, "display_name": "Still typed", "bio": ""},
        files={"header": ("x.png", b"not an image", "image/png")},
        headers=BROWSER,
    )
    assert broken.status_code == 400 and "cannot be used" in broken.text and 'value="Still typed"' in broken.text


def test_text_and_mood_posts_publish_without_javascript(
    client: TestClient, make_member: Callable[..., Account]
) -> None:
    make_member("ana")
    token = sign_in(client, "ana")
    response = client.post(
        "/compose/text",
        data={
            "csrf_token": token,
            "caption": "rain again #weather",
            "mood_emoji": "🌧️",
            "mood_word": "melancholy",
            "visibility": "public",
        },
        headers=BROWSER,
    )
    assert response.status_code == 200 and "rain again" in response.text and "melancholy" in response.text
    assert "rain again" in client.get("/tags/weather", headers=BROWSER).text
    too_long = client.post("/compose/text", data={"csrf_token": token, "mood_word": "x" * 100}, headers=BROWSER)
    assert too_long.status_code == 400 and "at most" in too_long.text
    services = services_of(client)
    assert run_in_app(client, _count_posts, services) == 1


async def _count_posts(services: Services) -> int:
    async with services.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Post)) or 0)
