"""A remote server's file host (a CDN such as Mastodon's ``files.…``): a real HTTP server on 127.0.0.1 serving
the files a test gives it, recording every GET, and answering with scripted statuses so tests can play a
host that is down, a file that is gone, or one that is far too large."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.peers import serving_in_thread
from tests.processes import free_port


@dataclass
class MediaHost:
    port: int = field(default_factory=free_port)
    #: Files by path: (bytes, content type).
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    #: Paths answered with this status (and no body) instead of their file.
    statuses: dict[str, int] = field(default_factory=dict)
    #: Paths answered with this many bytes of zeros, streamed without a ``Content-Length``.
    endless: dict[str, int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, path: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """Serve ``data`` at ``path``; returns its URL."""
        self.files[path] = (data, content_type)
        return self.base_url + path

    def url(self, path: str) -> str:
        return self.base_url + path

    def gets(self, path: str) -> int:
        """How many GETs ``path`` received."""
        with self._lock:
            return self.requests.count(path)

    async def answer(self, request: Request) -> Response:
        path = request.url.path
        with self._lock:
            self.requests.append(path)
        if path in self.statuses:
            return Response(status_code=self.statuses[path])
        if path in self.endless:
            size = self.endless[path]

            async def zeros() -> AsyncIterator[bytes]:
                chunk = b"\0" * 65536
                for _ in range(size // len(chunk) + 1):
                    yield chunk

            return StreamingResponse(zeros(), media_type="image/png")
        found = self.files.get(path)
        if found is None:
            return Response(status_code=404)
        data, content_type = found
        return Response(data, media_type=content_type)


@contextmanager
def running_media_host() -> Iterator[MediaHost]:
    host = MediaHost()
    app = Starlette(routes=[Route("/{path:path}", host.answer)])
    with serving_in_thread(app, host.port):
        yield host
