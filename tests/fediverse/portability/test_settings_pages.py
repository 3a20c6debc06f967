"""Settings → Import and export as a person uses it: exports download as Mastodon's CSV files, an upload
becomes an import whose progress and skipped lines show, a file that is no such CSV is refused with why."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from storage.models import Account
from tests.fediverse.federation.conftest import drain
from tests.fediverse.studio.conftest import sign_in
from tests.fediverse.web.conftest import BROWSER
from tests.peers import FakePeer


def test_an_uploaded_csv_is_imported_in_the_background_with_its_progress_shown(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    ana = sign_in(client, make_user("ana"))
    ben = peer.add_actor("ben")
    page = ana.get("/settings/import-export", headers=BROWSER)
    assert page.status_code == 200 and "Import" in page.text and "no-store" in page.headers["cache-control"]
    csv = f"Account address,Show boosts,Notify on new posts,Languages\n{ben.handle},true,false,\nnobody,true,false,\n"
    uploaded = ana.post(
        "/settings/imports",
        data={"type": "following", "mode": "merge"},
        files={"file": ("following_accounts.csv", csv.encode(), "text/csv")},
        headers=BROWSER,
        follow_redirects=False,
    )
    assert uploaded.status_code == 303
    # Before the worker runs, the page says it is working and refreshes itself
    waiting = ana.get("/settings/import-export", headers=BROWSER).text
    assert "1 of 2 lines done" in waiting and 'http-equiv="refresh"' in waiting
    drain(client)
    done = ana.get("/settings/import-export", headers=BROWSER).text
    assert "2 of 2 lines done: 1 imported, 1 skipped" in done and 'http-equiv="refresh"' not in done
    job_id = done.split('href="/settings/imports/')[1].split('"')[0]
    details = ana.get(f"/settings/imports/{job_id}", headers=BROWSER).text
    assert "nobody" in details and "not an account address" in details
    # The export gives the follow back, as Mastodon writes it
    exported = ana.get("/settings/exports/following.csv")
    assert exported.status_code == 200 and exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="following_accounts.csv"' in exported.headers["content-disposition"]
    assert exported.text == f"Account address,Show boosts,Notify on new posts,Languages\n{ben.handle},true,false,\n"
    assert ana.get("/settings/exports/followers.csv").text == ""
    assert ana.get("/settings/exports/passwords.csv").status_code == 404
    # Someone else's import is not there for anyone else
    bob = sign_in(client, make_user("bob"))
    assert bob.get(f"/settings/imports/{job_id}", headers=BROWSER).status_code == 404


def test_a_file_that_is_no_such_csv_is_refused_with_why(client: TestClient, make_user: Callable[..., Account]) -> None:
    ana = sign_in(client, make_user("ana"))

    def upload(kind: str, data: bytes) -> str:
        response = ana.post(
            "/settings/imports",
            data={"type": kind, "mode": "merge"},
            files={"file": ("x.csv", data, "text/csv")},
            headers=BROWSER,
        )
        assert response.status_code == 400
        return response.text

    assert "empty" in upload("blocks", b"\n\n")
    assert "not UTF-8" in upload("blocks", b"\xff\xfe\x00a")
    assert "not those of a bookmarks file" in upload("bookmarks", b"Account address,Hide notifications\na@b.c,true\n")
    assert "Unknown import type" in upload("lists", b"a@b.c\n")
    assert "at most 20000" in upload("blocks", b"a@b.example\n" * 20_001)
