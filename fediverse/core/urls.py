"""Every URL this instance mints, in one place: ActivityPub ids (``*_id``) and pages (``*_url``).

Ids never change once published (peers store them), so the shapes here are part of our wire contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

INSTANCE_ACTOR_NAME = "reverie.instance"


@dataclass(frozen=True)
class Urls:
    base_url: str

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    def absolute(self, path: str) -> str:
        return self.base_url + path

    # actors
    def actor_id(self, username: str) -> str:
        return f"{self.base_url}/users/{username}"

    def key_id(self, username: str) -> str:
        return f"{self.actor_id(username)}#main-key"

    def inbox_url(self, username: str) -> str:
        return f"{self.actor_id(username)}/inbox"

    def outbox_url(self, username: str) -> str:
        return f"{self.actor_id(username)}/outbox"

    def followers_url(self, username: str) -> str:
        return f"{self.actor_id(username)}/followers"

    def following_url(self, username: str) -> str:
        return f"{self.actor_id(username)}/following"

    def featured_url(self, username: str) -> str:
        return f"{self.actor_id(username)}/collections/featured"

    def featured_tags_url(self, username: str) -> str:
        return f"{self.actor_id(username)}/collections/tags"

    def profile_url(self, username: str) -> str:
        return f"{self.base_url}/@{username}"

    def shared_inbox_url(self) -> str:
        return f"{self.base_url}/inbox"

    def instance_actor_id(self) -> str:
        return f"{self.base_url}/actor"

    def instance_key_id(self) -> str:
        return f"{self.instance_actor_id()}#main-key"

    # FEP-4c96 content labels: the vocabulary (a Collection) and each LabelDefinition in it
    def labels_id(self) -> str:
        return f"{self.base_url}/labels"

    def label_id(self, slug: str) -> str:
        return f"{self.labels_id()}/{slug}"

    def acct(self, username: str) -> str:
        return f"acct:{username}@{self.host}"

    # objects
    def post_id(self, username: str, post_id: int) -> str:
        return f"{self.actor_id(username)}/statuses/{post_id}"

    def post_url(self, username: str, post_id: int) -> str:
        return f"{self.profile_url(username)}/{post_id}"

    def replies_id(self, username: str, post_id: int) -> str:
        return f"{self.post_id(username, post_id)}/replies"

    def quote_authorization_id(self, username: str, authorization_id: int) -> str:
        """A FEP-044f ``QuoteAuthorization`` a local account issued (served, so quoting servers can check it)."""
        return f"{self.actor_id(username)}/quote_authorizations/{authorization_id}"

    def activity_id(self, username: str, token: str) -> str:
        """Ids of activities that are not the Create of a post (Follow, Like, Undo, …)."""
        return f"{self.actor_id(username)}/activities/{token}"

    def authorization_id(self, username: str, kind: str, row_id: int) -> str:
        """An approval of a remote account's reply or like of a post by ``username`` (GoToSocial's
        ``ReplyAuthorization``/``LikeAuthorization``, decision 0063); ``kind`` is ``replies`` or ``likes``."""
        return f"{self.actor_id(username)}/authorizations/{kind}/{row_id}"

    def report_id(self, token: str) -> str:
        """Ids of the ``Flag``s we forward (never served: a report is between two servers' admins)."""
        return f"{self.base_url}/reports/{token}"

    def tag_url(self, tag: str) -> str:
        return f"{self.base_url}/tags/{quote(tag.lower())}"

    def media_url(self, key: str) -> str:
        return f"{self.base_url}/media/{key}"

    def remote_media_url(self, media_id: int, variant: str) -> str:
        """A remote file (a ``REMOTE`` media row) on our origin, whether or not it is cached yet: served from
        the cache, fetched first when it is not (``variant``: ``original``, ``display`` or ``thumbnail``)."""
        return f"{self.base_url}/media/remote/{media_id}/{variant}"

    def authorize_interaction_template(self) -> str:
        return f"{self.base_url}/authorize_interaction?uri={{uri}}"

    def is_local(self, url: str) -> bool:
        return url == self.base_url or url.startswith(self.base_url + "/")
