"""Blocking, muting and reporting from the pages: what each person then sees, and who may do what."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from starlette.testclient import TestClient

from fediverse.social import actions
from storage.models import Account, Post
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.web.conftest import BROWSER, page_url, sign_in

HTMX = {**BROWSER, "HX-Request": "true"}
ANA = f"{TEST_BASE_URL}/users/ana"
BEN = f"{TEST_BASE_URL}/users/ben"
CAL = f"{TEST_BASE_URL}/users/cal"


def as_user(client: TestClient, username: str) -> str:
    """Sign ``username`` in (signing out whoever was); returns the CSRF token."""
    client.cookies.clear()
    return sign_in(client, username)


def run_action(client: TestClient, action: Callable[..., object], *args: object, **options: object) -> object:
    return run_in_app(client, action, services_of(client), *args, **options)  # type: ignore[arg-type]


def test_blocking_from_a_profile_hides_both_sides_until_unblocked(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    # Given ana and ben following each other, ben's post, and ben's boost of cal's post
    for name in ("ana", "ben", "cal"):
        make_member(name)
    run_action(client, actions.follow, "ana", BEN)
    run_action(client, actions.follow, "ben", ANA)
    post_as("ben", caption="bens harbour")
    cals = post_as("cal", caption="cals meadow")
    run_action(client, actions.boost, "ben", cals.ap_id)
    anas = post_as("ana", caption="anas lighthouse")
    token = as_user(client, "ana")
    assert "bens harbour" in client.get("/", headers=BROWSER).text
    # When ana blocks ben from his profile, in place
    bar = client.post("/block", data={"csrf_token": token, "target": BEN, "next": "/@ben"}, headers=HTMX)
    # Then the bar swaps to an Unblock button, and neither follows the other any more
    assert bar.status_code == 200 and "<html" not in bar.text
    assert 'id="profile-actions"' in bar.text and ">Unblock</button>" in bar.text and "follow-button" not in bar.text
    assert "0</strong> followers" in client.get("/@ana", headers=BROWSER).text
    assert "0</strong> followers" in client.get("/@ben", headers=BROWSER).text
    # And ben's posts and boosts are gone from her feeds
    run_action(client, actions.follow, "ana", CAL)
    for path in ("/", "/local", "/federated"):
        feed = client.get(path, headers=BROWSER).text
        assert "bens harbour" not in feed, path
    assert "cals meadow" in client.get("/", headers=BROWSER).text  # cal's own post, not ben's boost of it
    assert "boosted" not in client.get("/", headers=BROWSER).text
    # And ben sees nothing of hers, and cannot follow, like or answer her (her posts are missing to him)
    token = as_user(client, "ben")
    assert "anas lighthouse" not in client.get("/local", headers=BROWSER).text
    assert "You cannot follow this account" in client.get("/@ana", headers=BROWSER).text
    assert client.post("/follow", data={"csrf_token": token, "target": ANA}, headers=BROWSER).status_code == 403
    assert client.post(f"/posts/{anas.id}/like", data={"csrf_token": token}, headers=BROWSER).status_code == 404
    reply = {"csrf_token": token, "in_reply_to": str(anas.id), "caption": "hey", "visibility": "public"}
    assert client.post("/compose/text", data=reply, headers=BROWSER).status_code == 404
    # When ana unblocks him from her settings, his posts are back
    token = as_user(client, "ana")
    settings = client.get("/settings/blocks", headers=BROWSER).text
    assert "@ben@" in settings and 'aria-label="Unblock @ben@' in settings
    client.post("/unblock", data={"csrf_token": token, "target": BEN, "next": "/settings/blocks"}, headers=BROWSER)
    assert "You have not blocked anyone." in client.get("/settings/blocks", headers=BROWSER).text
    assert "bens harbour" in client.get("/local", headers=BROWSER).text


def test_muting_hides_posts_and_optionally_notifications(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    # Given ana following ben, and ben liking ana's post
    make_member("ana")
    make_member("ben")
    run_action(client, actions.follow, "ana", BEN)
    post_as("ben", caption="bens harbour")
    anas = post_as("ana", caption="anas lighthouse")
    run_action(client, actions.like, "ben", anas.ap_id)
    token = as_user(client, "ana")
    # When ana mutes ben but keeps his notifications
    bar = client.post("/mute", data={"csrf_token": token, "target": BEN}, headers=HTMX)
    assert "Muted" in bar.text and ">Unmute @ben@" in bar.text
    # Then his posts leave her feeds, and she still sees that he liked her post
    for path in ("/", "/local"):
        assert "bens harbour" not in client.get(path, headers=BROWSER).text, path
    assert "liked your post" in client.get("/notifications", headers=BROWSER).text
    # When she mutes him with notifications hidden, that notification goes too
    client.post("/mute", data={"csrf_token": token, "target": BEN, "hide_notifications": "on"}, headers=HTMX)
    assert "liked your post" not in client.get("/notifications", headers=BROWSER).text
    settings = client.get("/settings/blocks", headers=BROWSER).text
    assert "notifications hidden" in settings and 'aria-label="Unmute @ben@' in settings
    # And ben notices nothing: he still follows nobody new, and sees her posts
    assert "anas lighthouse" in client.get(page_url("ana", anas), headers=BROWSER).text
    # When she unmutes him, all is back
    client.post("/unmute", data={"csrf_token": token, "target": BEN}, headers=BROWSER)
    assert "bens harbour" in client.get("/", headers=BROWSER).text
    assert "liked your post" in client.get("/notifications", headers=BROWSER).text


def test_only_the_signed_in_account_changes_its_blocks_and_every_change_needs_csrf(
    client: TestClient, make_member: Callable[..., Account]
) -> None:
    for name in ("ana", "ben", "cal"):
        make_member(name)
    run_action(client, actions.block, "ana", CAL)
    # Anonymous visitors are sent to sign in; a missing or wrong CSRF token is refused
    client.cookies.clear()
    for path in ("/block", "/unblock", "/mute", "/unmute", "/report"):
        assert client.post(path, data={"target": CAL, "account": CAL}, headers=BROWSER).status_code == 401, path
    token = sign_in(client, "ben")
    for path in ("/block", "/unblock", "/mute", "/unmute", "/report"):
        assert client.post(path, data={"target": CAL, "account": CAL}, headers=BROWSER).status_code == 403, path
        forged = {"target": CAL, "account": CAL, "csrf_token": "x" * len(token)}
        assert client.post(path, data=forged, headers=BROWSER).status_code == 403, path
    # ben's unblock of cal is his own (he blocks nobody): ana's block stays
    client.post("/unblock", data={"csrf_token": token, "target": CAL}, headers=BROWSER)
    assert "You have not blocked anyone." in client.get("/settings/blocks", headers=BROWSER).text
    as_user(client, "ana")
    assert "@cal@" in client.get("/settings/blocks", headers=BROWSER).text
    # And nobody blocks or mutes themselves
    token = as_user(client, "ana")
    assert client.post("/block", data={"csrf_token": token, "target": ANA}, headers=BROWSER).status_code == 400
    assert client.post("/mute", data={"csrf_token": token, "target": ANA}, headers=BROWSER).status_code == 400


def test_a_report_from_a_post_reaches_the_admins(
    client: TestClient, make_member: Callable[..., Account], post_as: Callable[..., Post]
) -> None:
    # Given ben's post, and ana, an admin
    make_member("ana", is_admin=True)
    make_member("ben")
    make_member("cal")
    bens = post_as("ben", caption="rude words")
    other = post_as("ben", caption="a quiet pond")
    token = as_user(client, "cal")
    # When cal opens "Report this post" from the post's menu
    post_page = client.get(page_url("ben", bens), headers=BROWSER).text
    assert f"/report?account={quote(BEN)}&amp;post={bens.id}" in post_page
    form = client.get("/report", params={"account": BEN, "post": str(bens.id)}, headers=BROWSER).text
    # Then the form lists ben's posts with that one chosen, and (ben being local) no forwarding
    assert f'value="{bens.id}" checked' in form and f'value="{other.id}" >' in form
    assert 'name="forward"' not in form
    # When cal sends it
    sent = client.post(
        "/report",
        data={"csrf_token": token, "account": BEN, "comment": "insults <everyone>", "post": [str(bens.id)]},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/@ben?reported=1"
    assert "Your report was sent" in client.get(sent.headers["location"], headers=BROWSER).text
    # Then the admin sees it: who, by whom, why, which post
    as_user(client, "ana")
    admin = client.get("/admin", headers=BROWSER).text
    reports = admin.split('id="reports"')[1]
    assert "@ben@" in reports and "reported by @cal@" in reports
    assert "insults &lt;everyone&gt;" in reports and bens.ap_id in reports and other.ap_id not in reports
