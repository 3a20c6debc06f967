"""Mastodon.py, the most used Python client library, through a person's whole first session.

Register the app, authorize it with PKCE through our consent page, verify credentials, upload an image
with alt text, post it, see it in the home and local timelines, favourite and boost it, resolve and
follow bob on another instance, receive his post in the home timeline, read the notification of his
follow, and delete. Every call is Mastodon.py's own; only the browser part (signing in and pressing
"approve") and the PKCE token exchange, which Mastodon.py does not implement, are done by hand.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest
from mastodon import Mastodon, MastodonNotFoundError

from tests.clients.conftest import Instance, approve, pkce_pair, png_bytes
from tests.processes import eventually

pytestmark = pytest.mark.slow

SCOPES = ["read", "write", "follow", "push"]
REDIRECT = "com.example.reverie-test:/oauth-callback"


def test_a_whole_session_with_mastodon_py(instances: tuple[Instance, Instance]) -> None:
    a, b = instances
    # Register the app; Mastodon.py checks our version string and reads the OAuth metadata
    client_id, client_secret = Mastodon.create_app(
        "Reverie tests", scopes=SCOPES, redirect_uris=REDIRECT, api_base_url=a.base_url
    )
    app = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=a.base_url)
    assert app.verify_minimum_version("4.0.0", cached=True)
    assert "S256" in app.oauth_authorization_server_info()["code_challenge_methods_supported"]
    # Authorize with PKCE through the consent page
    verifier, challenge = pkce_pair()
    url = app.auth_request_url(redirect_uris=REDIRECT, scopes=SCOPES, state="s1", allow_http=True)
    code = approve(a, "ana", url + "&" + urlencode({"code_challenge": challenge, "code_challenge_method": "S256"}))
    token = httpx.post(
        f"{a.base_url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": REDIRECT,
        },
    ).json()
    ana = Mastodon(access_token=token["access_token"], api_base_url=a.base_url)
    me = ana.account_verify_credentials()
    assert me.username == "ana" and me.acct == "ana"

    # Upload with alt text, then post it
    media = ana.media_post(png_bytes(), mime_type="image/png", description="a blue rectangle", synchronous=True)
    assert media.url and media.description == "a blue rectangle"
    posted = ana.status_post("first light over the harbour #harbour", media_ids=[media])
    assert posted.media_attachments[0].id == media.id
    assert [tag.name for tag in posted.tags] == ["harbour"]
    assert posted.id in {status.id for status in ana.timeline_home()}
    assert posted.id in {status.id for status in ana.timeline_local()}

    # Favourite and boost
    assert ana.status_favourite(posted).favourited is True
    boost = ana.status_reblog(posted)
    assert boost.reblog.id == posted.id and ana.status(posted.id).reblogs_count == 1

    # Resolve bob on the other instance and follow him
    found = ana.search_v2(f"@bob@{b.host}", resolve=True, result_type="accounts")
    (bob,) = found.accounts
    assert bob.acct == f"bob@{b.host}"
    ana.account_follow(bob)
    eventually(lambda: ana.account_relationships(bob)[0].following, "B to accept ana's follow")
    # …and his post arrives in her home timeline
    b.publish("bob", "a lighthouse in fog", "the lighthouse, in fog")
    home = eventually(
        lambda: [status for status in ana.timeline_home() if status.account.acct == f"bob@{b.host}"],
        "bob's post in ana's home timeline",
    )
    assert "the lighthouse, in fog" in home[0].content and home[0].media_attachments[0].url

    # bob follows back: ana is notified
    b.reverie("follow", "bob", f"@ana@{a.host}")
    follow = eventually(
        lambda: [n for n in ana.notifications(types=["follow"]) if n.account.acct == f"bob@{b.host}"],
        "the follow notification",
    )
    assert follow[0].type == "follow"

    # Delete: the status returns its source for redrafting, then is gone
    deleted = ana.status_delete(posted)
    assert "first light over the harbour" in (deleted.text or deleted.content)
    with pytest.raises(MastodonNotFoundError):
        ana.status(posted.id)
