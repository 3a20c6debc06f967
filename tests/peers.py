"""A fake remote fediverse server: a real HTTP server on 127.0.0.1 (uvicorn in a thread).

It serves WebFinger and Mastodon-shaped actor documents with real keys, serves notes it was given,
records every POST to its inboxes (checking the HTTP signature with ``pyhttpsig``, an independent
implementation), and answers with scripted status codes so tests can play a failing server.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import httpsig
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from activitypub.keys import KeyPairPem, load_private_key
from activitypub.signatures import sign_request
from tests.keys import peer_key
from tests.processes import free_port

AS2 = "application/activity+json"


@dataclass
class ReceivedPost:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def activity(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class ReceivedGet:
    path: str
    headers: dict[str, str]
    signature_ok: bool

    @property
    def key_id(self) -> str | None:
        params = dict(part.split("=", 1) for part in self.headers.get("signature", "").split(",") if "=" in part)
        return params["keyId"].strip('"') if "keyId" in params else None


@dataclass
class PeerActor:
    username: str
    keys: KeyPairPem
    base_url: str
    extra: dict[str, Any] = field(default_factory=dict)
    #: Where the actor lives; Mastodon's instance actor is ``/actor``, GoToSocial's ``/users/{host}``.
    path: str | None = None

    @property
    def id(self) -> str:
        return self.base_url + (self.path or f"/users/{self.username}")

    @property
    def key_id(self) -> str:
        return f"{self.id}#main-key"

    @property
    def handle(self) -> str:
        return f"{self.username}@{urlsplit(self.base_url).netloc}"

    def document(self) -> dict[str, Any]:
        """Shaped as Mastodon 4.x serves an actor; a key given as ``None`` in ``extra`` is left out."""
        document = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.id,
            "type": "Person",
            "preferredUsername": self.username,
            "name": self.username.title(),
            "summary": "<p>a peer for tests</p>",
            "url": f"{self.base_url}/@{self.username}",
            "inbox": f"{self.id}/inbox",
            "outbox": f"{self.id}/outbox",
            "followers": f"{self.id}/followers",
            "following": f"{self.id}/following",
            "endpoints": {"sharedInbox": f"{self.base_url}/inbox"},
            "manuallyApprovesFollowers": False,
            "publicKey": {"id": self.key_id, "owner": self.id, "publicKeyPem": self.keys.public_pem},
            **self.extra,
        }
        return {key: value for key, value in document.items() if value is not None}


class FakePeer:
    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        self.actors: dict[str, PeerActor] = {}
        self.objects: dict[str, dict[str, Any]] = {}
        self.received: list[ReceivedPost] = []
        #: GETs of objects (not actors), with whether their signature checks against ``trusted_keys``.
        self.fetched: list[ReceivedGet] = []
        self.inbox_statuses: deque[int | tuple[int, dict[str, str]]] = deque()
        self.gone: set[str] = set()
        self.trusted_keys: dict[str, str] = {}
        #: WebFinger answers that point a name at some actor id (anywhere), overriding ``actors``.
        self.webfinger_points: dict[str, str] = {}
        #: Usernames whose actors WebFinger does not know, by address or by id.
        self.unfingered: set[str] = set()
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/.well-known/webfinger", self._webfinger),
                Route("/users/{name}", self._actor),
                Route("/inbox", self._inbox, methods=["POST"]),
                Route("/users/{name}/inbox", self._inbox, methods=["POST"]),
                Route("/{path:path}", self._object),
            ]
        )

    def add_actor(self, username: str, key_index: int = 0, *, path: str | None = None, **extra: Any) -> PeerActor:
        actor = PeerActor(username, peer_key(key_index), self.base_url, extra, path)
        self.actors[username] = actor
        return actor

    def trust(self, actor_document: dict[str, Any]) -> None:
        """Let the peer check signatures made with this actor's key (as if it had fetched the actor)."""
        key = actor_document["publicKey"]
        self.trusted_keys[key["id"]] = key["publicKeyPem"]

    def add_object(self, document: dict[str, Any]) -> None:
        self.objects[document["id"]] = document

    def answer_inbox_with(self, *statuses: int | tuple[int, dict[str, str]]) -> None:
        """The next inbox POSTs get these statuses (then 202 again)."""
        self.inbox_statuses.extend(statuses)

    def posts(self) -> list[ReceivedPost]:
        with self._lock:
            return list(self.received)

    def activities(self, kind: str | None = None) -> list[dict[str, Any]]:
        found = [post.activity for post in self.posts()]
        return [activity for activity in found if kind is None or activity.get("type") == kind]

    async def _webfinger(self, request: Request) -> Response:
        resource = request.query_params.get("resource", "")
        if resource.startswith(("http://", "https://")):  # by actor id, as Mastodon and GoToSocial answer
            by_id = next((actor for actor in self.actors.values() if actor.id == resource), None)
            username = by_id.username if by_id else ""
        else:
            username = resource.removeprefix("acct:").split("@", 1)[0]
        actor = self.actors.get(username)
        pointed = self.webfinger_points.get(username)
        if (actor is None and pointed is None) or username in self.unfingered:
            return Response(status_code=404)
        href = pointed or (actor.id if actor else "")
        return JSONResponse(
            {
                "subject": f"acct:{username}@{self.host}",
                "aliases": [href],
                "links": [{"rel": "self", "type": AS2, "href": href}],
            },
            media_type="application/jrd+json",
        )

    async def _actor(self, request: Request) -> Response:
        actor = self.actors.get(request.path_params["name"])
        if actor is None or actor.id in self.gone:
            return Response(status_code=410 if actor else 404)
        return JSONResponse(actor.document(), media_type=AS2)

    async def _object(self, request: Request) -> Response:
        url = f"{self.base_url}/{request.path_params['path']}"
        if request.url.query:
            url += f"?{request.url.query}"
        actor = next((actor for actor in self.actors.values() if actor.id == url), None)
        if actor is not None and actor.id not in self.gone:
            return JSONResponse(actor.document(), media_type=AS2)
        headers = {key.lower(): value for key, value in request.headers.items()}
        with self._lock:
            verified = _check_signature(request, headers, None, self.trusted_keys)
            self.fetched.append(ReceivedGet(url.removeprefix(self.base_url), headers, verified))
        if url in self.gone:
            return Response(status_code=410)
        document = self.objects.get(url)
        if document is None:
            return Response(status_code=404)
        return JSONResponse(document, media_type=AS2)

    async def _inbox(self, request: Request) -> Response:
        body = await request.body()
        headers = {key.lower(): value for key, value in request.headers.items()}
        with self._lock:
            verified = _check_signature(request, headers, body, self.trusted_keys)
            self.received.append(ReceivedPost(request.url.path, headers, body, verified))
            answer = self.inbox_statuses.popleft() if self.inbox_statuses else 202
        status, extra_headers = answer if isinstance(answer, tuple) else (answer, {})
        return Response(status_code=status, headers=extra_headers)

    def signed_get_headers(self, actor: PeerActor, url: str, *, key_id: str | None = None) -> dict[str, str]:
        """Headers of a GET of ``url`` signed by ``actor``, as Mastodon signs fetches."""
        headers = {"Accept": AS2}
        private_key = load_private_key(actor.keys.private_pem)
        signed = sign_request("GET", url, headers, None, key_id=key_id or actor.key_id, private_key=private_key)
        return {**headers, **signed}

    def signed_headers(
        self,
        actor: PeerActor,
        url: str,
        body: bytes,
        *,
        key_id: str | None = None,
        now: datetime | None = None,
        content_type: str = AS2,
    ) -> dict[str, str]:
        """Headers of a POST of ``body`` to ``url`` signed by ``actor`` (or naming ``key_id``), as Mastodon
        signs deliveries; ``now`` backdates the signature."""
        headers = {"Content-Type": content_type, "Date": formatdate(usegmt=True)}
        private_key = load_private_key(actor.keys.private_pem)
        signed = sign_request(
            "POST", url, headers, body, key_id=key_id or actor.key_id, private_key=private_key, now=now
        )
        return {**headers, **signed}


def _check_signature(request: Request, headers: dict[str, str], body: bytes | None, keys: dict[str, str]) -> bool:
    """Verify with pyhttpsig (not our code) against the public keys the test told the peer about; a POST
    (``body`` given) must sign its digest too."""
    signature = headers.get("signature", "")
    params = dict(part.split("=", 1) for part in signature.split(",") if "=" in part)
    public_pem = keys.get(params.get("keyId", "").strip('"'))
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode() if body is not None else None
    if public_pem is None or headers.get("digest") != digest:
        return False
    verifier = httpsig.HeaderVerifier(
        headers=headers,
        secret=public_pem.encode(),
        required_headers=["(request-target)", "host", "date", *(["digest"] if body is not None else [])],
        method=request.method,
        path=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        sign_header="signature",
    )
    try:
        return bool(verifier.verify())
    except Exception:
        return False


@contextmanager
def serving_in_thread(app: Any, port: int, *, lifespan: str = "off", timeout: float = 10) -> Iterator[uvicorn.Server]:
    """``app`` under uvicorn on 127.0.0.1:``port`` in a thread, up (bounded wait) until the block ends."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise TimeoutError(f"the server on port {port} did not start")
        time.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)


@contextmanager
def running_peer() -> Iterator[FakePeer]:
    peer = FakePeer()
    with serving_in_thread(peer.app, peer.port):
        yield peer


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)
