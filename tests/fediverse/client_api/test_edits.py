"""Editing a status (``PUT /api/v1/statuses/:id``) and from the post page, its history and its source:
each edit keeps the version before it, ``edited_at`` increases, and ``Update{Note}`` is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col
from starlette.testclient import TestClient

from fediverse.core.text import MAX_CAPTION_LENGTH
from storage.models import Account, OutboxActivity, PostEdit
from tests.conftest import run_in_app, services_of
from tests.fediverse.client_api.posting import STATUS_EDIT_KEYS, check_status, upload
from tests.fediverse.web.conftest import BROWSER, PASSWORD, csrf_of, sign_in

Headers = Callable[..., dict[str, str]]


def _count(client: TestClient, statement: Any) -> int:
    async def run() -> int:
        async with services_of(client).db.session() as session:
            return int(await session.scalar(statement) or 0)

    return run_in_app(client, run)


def _updates_of(client: TestClient, ap_id: str) -> int:
    return _count(
        client,
        select(func.count())
        .select_from(OutboxActivity)
        .where(col(OutboxActivity.type) == "Update", col(OutboxActivity.object_ap_id) == ap_id),
    )


def _versions_of(client: TestClient, post_id: str) -> int:
    return _count(client, select(func.count()).select_from(PostEdit).where(col(PostEdit.post_id) == int(post_id)))


def test_edits_keep_every_version_in_the_history(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana = make_user("ana")
    headers = token_for(ana)
    picture = upload(client, ana, "first description")
    posted = client.post(
        "/api/v1/statuses", json={"status": "first #one", "media_ids": [str(picture.id)]}, headers=headers
    ).json()
    # An unedited status has one version: itself
    (only,) = client.get(f"/api/v1/statuses/{posted['id']}/history").json()
    assert set(only) >= STATUS_EDIT_KEYS
    assert (only["content"], only["created_at"]) == (posted["content"], posted["created_at"])
    # When ana edits text, content warning, sensitivity, alt text and focus (JSON, as masto.js sends)
    edited = client.put(
        f"/api/v1/statuses/{posted['id']}",
        json={
            "status": "second #two",
            "spoiler_text": "bright",
            "sensitive": True,
            "media_ids": [str(picture.id)],
            "media_attributes": [{"id": str(picture.id), "description": "better description", "focus": "0.5,-0.25"}],
        },
        headers=headers,
    )
    assert edited.status_code == 200, edited.text
    status = edited.json()
    check_status(status)
    assert status["id"] == posted["id"] and "second" in status["content"]
    assert (status["spoiler_text"], status["sensitive"]) == ("bright", True)
    assert [tag["name"] for tag in status["tags"]] == ["two"]
    (attachment,) = status["media_attachments"]
    assert attachment["description"] == "better description"
    assert attachment["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    assert status["edited_at"] is not None
    # and again with a form, as Mastodon.py sends (Rails' ``media_attributes[][…]``), keeping the warning
    again = client.put(
        f"/api/v1/statuses/{posted['id']}",
        data={"status": "third", "media_attributes[][id]": str(picture.id), "media_attributes[][description]": "last"},
        headers=headers,
    )
    assert again.status_code == 200, again.text
    assert again.json()["spoiler_text"] == "bright"
    assert again.json()["edited_at"] > status["edited_at"]
    # Then the history lists the three versions, oldest first, each with its own alt text
    history = client.get(f"/api/v1/statuses/{posted['id']}/history", headers=headers).json()
    assert ["first" in item["content"] for item in history] == [True, False, False]
    assert ["third" in item["content"] for item in history] == [False, False, True]
    assert [item["spoiler_text"] for item in history] == ["", "bright", "bright"]
    assert [item["sensitive"] for item in history] == [False, True, True]
    assert [item["media_attachments"][0]["description"] for item in history] == [
        "first description",
        "better description",
        "last",
    ]
    assert [item["created_at"] for item in history] == sorted(item["created_at"] for item in history)
    assert history[0]["created_at"] == posted["created_at"]
    assert history[-1]["created_at"] == again.json()["edited_at"]
    assert all(item["account"]["acct"] == "ana" for item in history)
    assert client.get(f"/api/v1/statuses/{posted['id']}/source", headers=headers).json()["text"] == "third"
    # And each edit went out as Update{Note}
    assert _updates_of(client, status["uri"]) == 2


def test_refused_edits_change_nothing(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana, ben = make_user("ana"), make_user("ben")
    headers = token_for(ana)
    picture, bens = upload(client, ana), upload(client, ben)
    other = upload(client, ana)
    posted = client.post(
        "/api/v1/statuses", json={"status": "as it was", "media_ids": [str(picture.id)]}, headers=headers
    ).json()
    text_only = client.post("/api/v1/statuses", json={"status": "words only"}, headers=headers).json()
    path = f"/api/v1/statuses/{posted['id']}"
    refused = [
        (token_for(ben), {"status": "defaced"}, 404),
        (token_for(ana, "read"), {"status": "x"}, 403),
        ({}, {"status": "x"}, 401),
        (headers, {"status": "x" * (MAX_CAPTION_LENGTH + 1)}, 422),
        (headers, {"status": "x", "media_ids": [str(bens.id)]}, 422),  # someone else's upload
        (headers, {"status": "x", "media_ids": [str(picture.id), str(picture.id)]}, 422),
        (
            headers,
            {"status": "x", "media_ids": [str(picture.id)] + [str(upload(client, ana).id) for _ in range(4)]},
            422,
        ),
        (headers, {"status": "x", "media_ids": ["abc"]}, 422),
        (headers, {"status": "x", "media_attributes": [{"id": str(other.id), "description": "no"}]}, 422),
        (headers, {"status": "x", "media_attributes": [{"id": str(picture.id), "focus": "left"}]}, 422),
        (headers, {"status": "x", "media_attributes": [{"id": str(picture.id), "focus": "2,0"}]}, 422),
        (headers, {"status": "x", "media_attributes": "everything"}, 422),
        (headers, {"status": "x", "poll": {"options": ["a"]}}, 422),
        (headers, {"status": ["x"]}, 422),
        (headers, {"status": "x", "sensitive": "perhaps"}, 422),
    ]
    for caller, body, expected in refused:
        response = client.put(path, json=body, headers=caller)
        assert response.status_code == expected, (body, response.text)
        assert "error" in response.json()
    empty = client.put(f"/api/v1/statuses/{text_only['id']}", json={"status": "  "}, headers=headers)
    assert empty.status_code == 422
    assert client.put("/api/v1/statuses/123", json={"status": "x"}, headers=headers).status_code == 404
    for status_id in (posted["id"], text_only["id"]):
        assert len(client.get(f"/api/v1/statuses/{status_id}/history").json()) == 1
        assert client.get(f"/api/v1/statuses/{status_id}").json()["edited_at"] is None
    assert _updates_of(client, posted["uri"]) == 0


def test_a_deleted_status_leaves_no_versions_behind(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana = make_user("ana")
    posted = client.post("/api/v1/statuses", json={"status": "secret first draft"}, headers=token_for(ana)).json()
    client.put(f"/api/v1/statuses/{posted['id']}", json={"status": "public version"}, headers=token_for(ana))
    assert _versions_of(client, posted["id"]) == 1
    assert client.delete(f"/api/v1/statuses/{posted['id']}", headers=token_for(ana)).status_code == 200
    assert _versions_of(client, posted["id"]) == 0
    assert client.get(f"/api/v1/statuses/{posted['id']}/history").status_code == 404


def test_the_author_edits_from_the_post_page(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana = make_user("ana", password=PASSWORD)
    make_user("ben", password=PASSWORD)
    picture = upload(client, ana, "a blue door")
    posted = client.post(
        "/api/v1/statuses", json={"status": "before", "media_ids": [str(picture.id)]}, headers=token_for(ana)
    ).json()
    page_url = f"/@ana/{posted['id']}"
    edit_url = f"/posts/{posted['id']}/edit"
    # A visitor is sent to sign in
    assert client.get(edit_url, headers=BROWSER, follow_redirects=False).headers["location"].startswith("/login")
    sign_in(client, "ana")
    page = client.get(page_url, headers=BROWSER).text
    assert f'href="{edit_url}"' in page and "Edited" not in page
    form = client.get(edit_url, headers=BROWSER)
    assert form.status_code == 200
    assert ">before</textarea>" in form.text and ">a blue door</textarea>" in form.text
    token = csrf_of(form.text)
    # When she saves new words, a content warning and a new description
    saved = client.post(
        edit_url,
        data={
            "csrf_token": token,
            "caption": "after",
            "content_warning": "spoilers",
            f"alt_text_{picture.id}": "a blue door, ajar",
        },
        headers=BROWSER,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == page_url
    # Then the page shows the new version, marked edited with the time
    page = client.get(page_url, headers=BROWSER).text
    assert "after" in page and "spoilers" in page and "a blue door, ajar" in page
    assert 'class="edited">Edited <time datetime="' in page
    # the history has the old version, and the edit went out as Update{Note}
    history = client.get(f"/api/v1/statuses/{posted['id']}/history").json()
    assert ["before" in item["content"] for item in history] == [True, False]
    assert history[0]["media_attachments"][0]["description"] == "a blue door"
    assert history[1]["media_attachments"][0]["description"] == "a blue door, ajar"
    assert _updates_of(client, posted["uri"]) == 1
    # A refused edit comes back in the form with its reason, changing nothing
    refused = client.post(
        edit_url, data={"csrf_token": token, "caption": "x" * (MAX_CAPTION_LENGTH + 1)}, headers=BROWSER
    )
    assert refused.status_code == 400
    without_token = client.post(edit_url, data={"caption": "sneaky"}, headers=BROWSER, follow_redirects=False)
    assert without_token.status_code == 403
    assert len(client.get(f"/api/v1/statuses/{posted['id']}/history").json()) == 2
    # Someone else gets neither the link nor the form
    client.cookies.clear()
    sign_in(client, "ben")
    assert f'href="{edit_url}"' not in client.get(page_url, headers=BROWSER).text
    assert client.get(edit_url, headers=BROWSER).status_code == 404
    ben_token = csrf_of(client.get("/compose", headers=BROWSER).text)
    stolen = client.post(edit_url, data={"csrf_token": ben_token, "caption": "mine now"}, headers=BROWSER)
    assert stolen.status_code == 404
    assert len(client.get(f"/api/v1/statuses/{posted['id']}/history").json()) == 2


def test_edits_add_remove_and_reorder_images(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    """``media_ids`` in an edit: attached images to keep and the author's uploads to add, in their new
    order; an image taken out is deleted. The history records each version's set, and ``Update{Note}``
    carries the new attachments."""
    ana = make_user("ana")
    headers = token_for(ana)
    first, second, third = upload(client, ana, "one"), upload(client, ana, "two"), upload(client, ana, "three")
    posted = client.post(
        "/api/v1/statuses", json={"status": "pictures", "media_ids": [str(first.id), str(second.id)]}, headers=headers
    ).json()
    path = f"/api/v1/statuses/{posted['id']}"
    # Mastodon.py sends a form: media_ids[] and media_attributes[][…] for the new one's alt text
    edited = client.put(
        path,
        data={
            "status": "pictures, again",
            "media_ids[]": [str(third.id), str(first.id)],
            "media_attributes[][id]": str(third.id),
            "media_attributes[][description]": "three, described again",
        },
        headers=headers,
    )
    assert edited.status_code == 200, edited.text
    check_status(edited.json())
    assert [item["id"] for item in edited.json()["media_attachments"]] == [str(third.id), str(first.id)]
    assert edited.json()["media_attachments"][0]["description"] == "three, described again"
    # the image taken out is gone: not a draft to reuse, not fetchable as media
    assert client.get(f"/api/v1/media/{second.id}", headers=headers).status_code == 404
    reuse = client.post("/api/v1/statuses", json={"status": "x", "media_ids": [str(second.id)]}, headers=headers)
    assert reuse.status_code == 422
    # the history: the first version had two images, the current one the new set
    history = client.get(f"{path}/history", headers=headers).json()
    assert len(history) == 2
    assert [item["id"] for item in history[-1]["media_attachments"]] == [str(third.id), str(first.id)]
    assert [item["id"] for item in history[0]["media_attachments"]] == [str(first.id)]  # "two" was deleted
    assert _versions_of(client, posted["id"]) == 1
    # the Update carries the attachments the post has now
    attachments = _last_update(client, posted["uri"])["object"].get("attachment") or []
    assert [item["name"] for item in attachments] == ["three, described again", "one"]
    # words only: every image taken out
    bare = client.put(path, json={"status": "no pictures now", "media_ids": []}, headers=headers)
    assert bare.status_code == 200 and bare.json()["media_attachments"] == []
    assert _updates_of(client, posted["uri"]) == 2
    assert not _last_update(client, posted["uri"])["object"].get("attachment")


def _last_update(client: TestClient, ap_id: str) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        async with services_of(client).db.session() as session:
            found = await session.scalar(
                select(OutboxActivity)
                .where(col(OutboxActivity.type) == "Update", col(OutboxActivity.object_ap_id) == ap_id)
                .order_by(col(OutboxActivity.id).desc())
                .limit(1)
            )
            assert found is not None
            return found.payload

    return run_in_app(client, read)


def test_the_author_takes_a_picture_out_from_the_post_page(
    client: TestClient, make_user: Callable[..., Account], token_for: Headers
) -> None:
    ana = make_user("ana", password=PASSWORD)
    first, second = upload(client, ana, "a blue door"), upload(client, ana, "a red door")
    posted = client.post(
        "/api/v1/statuses",
        json={"status": "doors", "media_ids": [str(first.id), str(second.id)]},
        headers=token_for(ana),
    ).json()
    edit_url = f"/posts/{posted['id']}/edit"
    token = sign_in(client, "ana")
    assert f'name="remove_{second.id}"' in client.get(edit_url, headers=BROWSER).text
    saved = client.post(
        edit_url,
        data={"csrf_token": token, "caption": "one door", f"remove_{second.id}": "on"},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    status = client.get(f"/api/v1/statuses/{posted['id']}").json()
    assert [item["id"] for item in status["media_attachments"]] == [str(first.id)]
    assert _updates_of(client, posted["uri"]) == 1
