"""A ``requests`` session whose requests go to the test app (through ``TestClient``), so that a client
library built on ``requests`` (Mastodon.py) parses our real answers without a server process."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from starlette.testclient import TestClient


class _AppAdapter(BaseAdapter):
    def __init__(self, client: TestClient) -> None:
        super().__init__()
        self.client = client

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        answer = self.client.request(
            request.method or "GET", request.url or "", content=body, headers=dict(request.headers)
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.content
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def app_session(client: TestClient) -> requests.Session:
    """A session that sends everything under ``client``'s base URL to the app."""
    session = requests.Session()
    session.mount(str(client.base_url), _AppAdapter(client))
    return session
