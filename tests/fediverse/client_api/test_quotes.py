"""Quote posts in the client API (decision 0064): Mastodon 4.5's ``quoted_status_id`` on ``POST
/api/v1/statuses`` and the ``quote`` and ``quote_approval`` of a ``Status``, as an app reads them over HTTP."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from fediverse.social import actions
from fediverse.social.posts import PostDraft
from storage.models import Account, Visibility
from tests.fediverse.client_api.posting import check_status
from tests.fediverse.federation.conftest import act


def test_an_app_quotes_a_post_and_reads_the_quote(
    client: TestClient, make_user: Callable[..., Account], token_for: Callable[..., dict[str, str]]
) -> None:
    ana, _ = make_user("ana"), make_user("ben")
    quoted = act(client, actions.publish, "ben", PostDraft(caption="worth quoting"))
    headers = token_for(ana)
    # When an app posts with quoted_status_id
    made = client.post(
        "/api/v1/statuses", json={"status": "so true", "quoted_status_id": str(quoted.id)}, headers=headers
    )
    assert made.status_code == 200, made.text
    status = made.json()
    check_status(status)
    # Then the status carries Mastodon 4.5's Quote, with the quoted status, and the RE: fallback is marked
    assert status["quote"]["state"] == "accepted"
    assert status["quote"]["quoted_status"]["id"] == str(quoted.id)
    assert status["quote"]["quoted_status"]["content"].startswith("<p>worth quoting")
    assert 'class="quote-inline"' in status["content"]
    assert status["quote_approval"] == {"automatic": ["public"], "manual": [], "current_user": "automatic"}
    # And reading it again says the same
    again = client.get(f"/api/v1/statuses/{status['id']}", headers=headers).json()
    assert again["quote"]["quoted_status"]["id"] == str(quoted.id)
    # And a post that quotes nothing has quote null
    assert client.get(f"/api/v1/statuses/{quoted.id}", headers=headers).json()["quote"] is None


def test_a_quoted_post_the_reader_may_not_see_is_unauthorized_and_a_hidden_post_cannot_be_quoted(
    client: TestClient, make_user: Callable[..., Account], token_for: Callable[..., dict[str, str]]
) -> None:
    ana, _, cai = make_user("ana"), make_user("ben"), make_user("cai")
    private = act(client, actions.publish, "ben", PostDraft(caption="for me", visibility=Visibility.FOLLOWERS))
    # ben quotes his own followers-only post publicly; ana, no follower, reads the quote
    quoting = act(client, actions.publish, "ben", PostDraft(caption="see", quote_of=private))
    seen = client.get(f"/api/v1/statuses/{quoting.id}", headers=token_for(ana)).json()
    assert seen["quote"] == {"state": "unauthorized", "quoted_status": None}
    # cai may not quote ben's followers-only post (she cannot see it: 404, as Mastodon)
    refused = client.post(
        "/api/v1/statuses", json={"status": "x", "quoted_status_id": str(private.id)}, headers=token_for(cai)
    )
    assert refused.status_code == 404
