"""Being quoted (Mastodon 4.5, decision 0064): the quoted author's ``quote`` notification (list, ``types[]``,
grouped notifications, the notifications page), the status's ``quotes_count``, ``GET
/api/v1/statuses/:id/quotes``, and ``quoted_update`` when a quoted post is edited — as an app and a browser
see them over HTTP, for a quote from another server and one from here."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from starlette.testclient import TestClient

from fediverse.social import actions
from fediverse.social.posts import PostDraft
from storage.models import Account, Post, Visibility
from tests.fediverse.client_api.conftest import token_for
from tests.fediverse.client_api.posting import check_status
from tests.fediverse.federation.conftest import act, client, deliver, follow_remote, peer, query, remote_note, settings
from tests.fediverse.federation.test_quotes_in import MASTODON
from tests.fediverse.web.conftest import BROWSER, PASSWORD, sign_in
from tests.peers import FakePeer

__all__ = ["client", "peer", "settings", "token_for"]

Users = Callable[..., Account]
Tokens = Callable[..., dict[str, str]]


def test_a_remote_quote_notifies_the_quoted_author_and_counts(
    client: TestClient, peer: FakePeer, make_user: Users, token_for: Tokens
) -> None:
    ana = make_user("ana", password=PASSWORD)
    original = act(client, actions.publish, "ana", PostDraft(caption="worth quoting"))
    koi = peer.add_actor("koi")
    follow_remote(client, peer, "ana", koi)
    # When koi quotes ana's post as Mastodon 4.5 sends it
    create = MASTODON.create(peer, koi, original.ap_id)
    deliver(client, peer, koi, create)
    ((quoting_id,),) = query(client, select(Post.id).where(Post.ap_id == create["object"]["id"]))
    headers = token_for(ana)
    # Then ana has a quote notification whose status is koi's quoting post
    (note,) = client.get("/api/v1/notifications", headers=headers).json()
    assert note["type"] == "quote" and note["account"]["acct"] == f"koi@{peer.host}"
    assert note["status"]["id"] == str(quoting_id)
    check_status(note["status"])
    # And types[]/exclude_types[] know the type
    assert len(client.get("/api/v1/notifications", params={"types[]": "quote"}, headers=headers).json()) == 1
    assert client.get("/api/v1/notifications", params={"types[]": "mention"}, headers=headers).json() == []
    assert client.get("/api/v1/notifications", params={"exclude_types[]": "quote"}, headers=headers).json() == []
    # And so do grouped notifications (a quote is a group of its own, as in Mastodon)
    grouped = client.get("/api/v2/notifications", headers=headers).json()
    (group,) = grouped["notification_groups"]
    assert group["type"] == "quote" and group["status_id"] == str(quoting_id)
    assert group["group_key"].startswith("ungrouped-")
    # And ana's status counts the quote, and lists it
    status = client.get(f"/api/v1/statuses/{original.id}", headers=headers).json()
    assert status["quotes_count"] == 1
    quotes = client.get(f"/api/v1/statuses/{original.id}/quotes", headers=headers)
    assert quotes.status_code == 200, quotes.text
    assert [s["id"] for s in quotes.json()] == [str(quoting_id)]
    assert quotes.json()[0]["quote"]["quoted_status"]["id"] == str(original.id)
    # And anyone may read the public quotes of a public post
    assert [s["id"] for s in client.get(f"/api/v1/statuses/{original.id}/quotes").json()] == [str(quoting_id)]
    # And the notifications page says so, with the quote
    sign_in(client, "ana")
    page = client.get("/notifications", headers=BROWSER).text
    assert "quoted your post" in page and MASTODON.text in page


def test_a_local_quote_notifies_counts_pages_and_hides_what_the_reader_may_not_see(
    client: TestClient, make_user: Users, token_for: Tokens
) -> None:
    ana, ben, cai = make_user("ana"), make_user("ben"), make_user("cai")
    original = act(client, actions.publish, "ana", PostDraft(caption="worth quoting"))
    # When ben quotes it publicly, then again for his followers only (cai does not follow him)
    first = act(client, actions.publish, "ben", PostDraft(caption="yes", quote_of=original))
    second = act(
        client, actions.publish, "ben", PostDraft(caption="also", quote_of=original, visibility=Visibility.FOLLOWERS)
    )
    # Then ana is told of the public one; the followers-only one is not for her eyes (the one read rule)
    notes = client.get("/api/v1/notifications", headers=token_for(ana)).json()
    assert [(n["type"], n["status"]["id"]) for n in notes] == [("quote", str(first.id))]
    # And quotes_count counts the listed quote only, the same for everyone
    assert client.get(f"/api/v1/statuses/{original.id}", headers=token_for(cai)).json()["quotes_count"] == 1
    # And cai sees only the public quote; ben sees both, newest first, paged with a Link header
    listed = client.get(f"/api/v1/statuses/{original.id}/quotes", headers=token_for(cai)).json()
    assert [s["id"] for s in listed] == [str(first.id)]
    page = client.get(f"/api/v1/statuses/{original.id}/quotes", params={"limit": 1}, headers=token_for(ben))
    assert [s["id"] for s in page.json()] == [str(second.id)]
    assert "max_id=" in page.headers["Link"]
    older = client.get(
        f"/api/v1/statuses/{original.id}/quotes", params={"max_id": str(second.id)}, headers=token_for(ben)
    )
    assert [s["id"] for s in older.json()] == [str(first.id)]
    # And a status nobody may see, or none at all, is a 404
    assert client.get("/api/v1/statuses/999999/quotes").status_code == 404
    hidden = act(client, actions.publish, "ana", PostDraft(caption="mine", visibility=Visibility.DIRECT))
    assert client.get(f"/api/v1/statuses/{hidden.id}/quotes", headers=token_for(cai)).status_code == 404


def test_editing_a_quoted_post_tells_who_quoted_it(
    client: TestClient, peer: FakePeer, make_user: Users, token_for: Tokens
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    original = act(client, actions.publish, "ana", PostDraft(caption="first draft"))
    act(client, actions.publish, "ben", PostDraft(caption="quoting", quote_of=original))
    # When ana edits her post
    edited = client.put(f"/api/v1/statuses/{original.id}", json={"status": "second draft"}, headers=token_for(ana))
    assert edited.status_code == 200, edited.text
    # Then ben has a quoted_update notification about ana's post
    (note,) = client.get("/api/v1/notifications", params={"types[]": "quoted_update"}, headers=token_for(ben)).json()
    assert note["account"]["acct"] == "ana" and note["status"]["id"] == str(original.id)
    assert "second draft" in note["status"]["content"]
    # And a remote author's edit of a post ben quoted tells him too
    rin = peer.add_actor("rin")
    follow_remote(client, peer, "ben", rin)
    remote = remote_note(rin, 1, "<p>remote first</p>")
    deliver(
        client,
        peer,
        rin,
        {
            "id": f"{rin.id}#c1",
            "type": "Create",
            "actor": rin.id,
            "object": remote,
            "to": remote["to"],
            "cc": remote.get("cc", []),
        },
    )
    ((remote_id,),) = query(client, select(Post.id).where(Post.ap_id == remote["id"]))
    act(client, actions.publish, "ben", PostDraft(caption="and this", quote_of=_post(client, remote_id)))
    changed = {**remote, "content": "<p>remote second</p>", "updated": "2026-12-01T10:00:00Z"}
    deliver(
        client,
        peer,
        rin,
        {
            "id": f"{rin.id}#u1",
            "type": "Update",
            "actor": rin.id,
            "object": changed,
            "to": remote["to"],
            "cc": remote.get("cc", []),
        },
    )
    updates = client.get("/api/v1/notifications", params={"types[]": "quoted_update"}, headers=token_for(ben)).json()
    assert updates[0]["status"]["id"] == str(remote_id)


def _post(client: TestClient, post_id: int) -> Post:
    ((post,),) = query(client, select(Post).where(Post.id == post_id))
    return post
