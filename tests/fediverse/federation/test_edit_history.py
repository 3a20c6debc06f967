"""A peer's edits keep the earlier versions too: each applied ``Update{Note}`` stores the note as it was
(``PostEdit``), so ``GET /api/v1/statuses/:id/history`` lists a remote post's versions as it does ours."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from starlette.testclient import TestClient

from storage.models import Account, Post
from tests.fediverse.federation.conftest import create_of, deliver, follow_remote, query, remote_note
from tests.peers import FakePeer


def test_a_peers_edits_are_listed_in_the_history(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana follows ben, and his note with a picture is stored
    make_user("ana")
    ben = peer.add_actor("ben")
    follow_remote(client, peer, "ana", ben)
    picture = {"type": "Image", "mediaType": "image/png", "url": f"{peer.base_url}/a.png", "name": "a cat"}
    note = remote_note(ben, 7, "<p>first</p>", attachment=[picture], published="2030-01-01T00:00:00Z")
    peer.add_object(note)
    deliver(client, peer, ben, create_of(ben, note))
    ((post_id,),) = query(client, select(Post.id).where(Post.ap_id == note["id"]))
    # When he edits it twice, the second time with a new description and a content warning
    edits = [
        {**note, "content": "<p>second</p>", "updated": "2030-01-02T00:00:00Z"},
        {
            **note,
            "content": "<p>third</p>",
            "summary": "cw",
            "attachment": [{**picture, "name": "a sleeping cat"}],
            "updated": "2030-01-03T00:00:00Z",
        },
    ]
    for number, edited in enumerate(edits):
        peer.add_object(edited)
        deliver(
            client, peer, ben, {"id": f"{ben.id}#updates/{number}", "type": "Update", "actor": ben.id, "object": edited}
        )
    # A stale repeat of the first edit changes nothing
    deliver(client, peer, ben, {"id": f"{ben.id}#updates/9", "type": "Update", "actor": ben.id, "object": edits[0]})
    # Then the status is the last version, and its history has all three, oldest first
    status = client.get(f"/api/v1/statuses/{post_id}").json()
    assert (status["content"], status["spoiler_text"]) == ("<p>third</p>", "cw")
    assert status["edited_at"] == "2030-01-03T00:00:00.000Z"
    history = client.get(f"/api/v1/statuses/{post_id}/history").json()
    assert [item["content"] for item in history] == ["<p>first</p>", "<p>second</p>", "<p>third</p>"]
    assert [item["created_at"] for item in history] == [
        "2030-01-01T00:00:00.000Z",
        "2030-01-02T00:00:00.000Z",
        "2030-01-03T00:00:00.000Z",
    ]
    assert [item["media_attachments"][0]["description"] for item in history] == ["a cat", "a cat", "a sleeping cat"]
    assert [item["spoiler_text"] for item in history] == ["", "", "cw"]
    assert all(item["account"]["acct"].startswith("ben@") for item in history)
