"""Outbound GETs for federation: documents signed by the instance actor, and WebFinger lookups.

Both go through ``activitypub.fetch``'s SSRF guard; ``REVERIE_ALLOW_PRIVATE_ADDRESSES`` (loopback
development and tests only) lifts the address rule and lets loopback hosts be reached over http.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from activitypub.errors import ActivityPubError
from activitypub.fetch import fetch_object
from activitypub.keys import load_private_key
from activitypub.signatures import HttpSignatureAuth
from activitypub.vocab import JsonObject
from activitypub.webfinger import WebFingerResult, lookup_webfinger, lookup_webfinger_subject, split_handle
from fediverse.core.config import is_loopback_host
from fediverse.core.metrics import REMOTE_FETCHES
from storage.models import Keypair


class RemoteDocuments:
    def __init__(
        self, client: httpx.AsyncClient, instance_key: Keypair, *, allow_private: bool, loopback_scheme: str = "http"
    ) -> None:
        self.client = client
        self.allow_private = allow_private
        self.loopback_scheme = loopback_scheme
        self.signer = HttpSignatureAuth(
            key_id=instance_key.key_id, private_key=load_private_key(instance_key.private_key_pem)
        )

    async def fetch(self, url: str) -> JsonObject:
        """An AS2 document by id, authenticated (id matches, AS2 content type, size-capped)."""
        try:
            document = await fetch_object(self.client, url, signer=self.signer, allow_private=self.allow_private)
        except Exception:
            _FETCH_ERRORS.inc()
            raise
        _FETCHES_OK.inc()
        return document

    async def lookup_handle(self, handle: str) -> str:
        """The actor id behind ``user@host`` (WebFinger, host-meta fallback)."""
        return (await self.finger(handle)).actor_id

    async def finger(self, handle: str) -> WebFingerResult:
        """The WebFinger answer for ``user@host``: actor id and, when offered, the remote-follow template."""
        _, host = split_handle(handle)
        try:
            found = await lookup_webfinger(
                self.client, handle, allow_private=self.allow_private, scheme=self._scheme(host)
            )
        except Exception:
            _WEBFINGER_ERRORS.inc()
            raise
        _WEBFINGER_OK.inc()
        return found

    async def address_of(self, actor_id: str) -> str | None:
        """``user@host`` as the actor's own server names ``actor_id`` through WebFinger; ``None`` when it
        does not answer, or answers for another actor."""
        host = urlsplit(actor_id).netloc
        try:
            found = await lookup_webfinger_subject(
                self.client, actor_id, allow_private=self.allow_private, scheme=self._scheme(host)
            )
        except ActivityPubError:
            _WEBFINGER_ERRORS.inc()
            return None
        _WEBFINGER_OK.inc()
        return found.subject.removeprefix("acct:")

    def _scheme(self, host: str) -> str:
        """``https``, except for loopback hosts in development and tests (``REVERIE_ALLOW_PRIVATE_ADDRESSES``):
        those speak ``loopback_scheme``, our own (plain http, or https behind a local TLS proxy: tests/deploy)."""
        loopback = self.allow_private and is_loopback_host(httpx.URL(f"http://{host}").host)
        return self.loopback_scheme if loopback else "https"


_FETCHES_OK, _FETCH_ERRORS = REMOTE_FETCHES.labels("document", "ok"), REMOTE_FETCHES.labels("document", "error")
_WEBFINGER_OK, _WEBFINGER_ERRORS = REMOTE_FETCHES.labels("webfinger", "ok"), REMOTE_FETCHES.labels("webfinger", "error")
