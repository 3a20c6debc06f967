"""``active-boxes`` as an independent reader of the activities we send (docs/decisions/0004).

``active_boxes.activitypub.parse_activity`` validates an activity's actor by fetching it through a
module-global backend. ``reading_with_active_boxes`` installs one that fetches over real HTTP (the fake
peers) or from the app under test, and removes it afterwards.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import active_boxes.activitypub as active_boxes
import httpx
from active_boxes.backend import Backend
from starlette.testclient import TestClient

from tests.conftest import TEST_BASE_URL

AS2 = {"Accept": "application/activity+json"}


class DocumentBackend(Backend):
    """Fetches documents with ``fetch``; nothing else of a backend is used when only parsing."""

    def __init__(self, fetch: Callable[[str], dict[str, Any]]) -> None:
        self.fetch = fetch

    def base_url(self) -> str:
        return "https://reader.invalid"

    def activity_url(self, obj_id: str) -> str:
        return f"https://reader.invalid/activities/{obj_id}"

    def note_url(self, obj_id: str) -> str:
        return f"https://reader.invalid/notes/{obj_id}"

    async def fetch_iri(self, iri: str, **kwargs: Any) -> dict[str, Any]:
        return self.fetch(iri)

    def fetch_iri_sync(self, iri: str, **kwargs: Any) -> dict[str, Any]:
        return self.fetch(iri)


@contextmanager
def reading_with_active_boxes(client: TestClient) -> Iterator[Callable[[dict[str, Any]], Any]]:
    """Yields ``parse_activity``, able to look up our actors (through ``client``) and any peer's."""

    def fetch(url: str) -> dict[str, Any]:
        response = client.get(url, headers=AS2) if url.startswith(TEST_BASE_URL) else httpx.get(url, headers=AS2)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    def parse(document: dict[str, Any]) -> Any:
        return active_boxes.parse_activity(copy.deepcopy(document))  # it rewrites the @context it is given

    active_boxes.use_backend(DocumentBackend(fetch))
    try:
        yield parse
    finally:
        active_boxes.use_backend(None)
