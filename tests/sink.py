"""An inbox sink: one HTTP server listening on many ports of 127.0.0.1, each port standing for one remote
host. It records every activity it receives (per port) and can answer slowly or with scripted failures,
so fault tests can watch a fan-out happen, kill the sender mid-way and count what arrived twice.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

Scope = dict[str, Any]


@dataclass
class Sink:
    ports: list[int]
    #: How long each port takes to answer (a slow or distant host).
    delay_for: Callable[[int], float] = lambda _port: 0.0
    #: Per port, statuses to answer before answering 202 (e.g. ``[503, 500]``).
    failures: dict[int, list[int]] = field(default_factory=dict)
    received: defaultdict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inbox_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/inbox"

    def arrivals(self, activity_id: str) -> Counter[int]:
        """How many times each port received ``activity_id``."""
        with self._lock:
            return Counter({port: ids.count(activity_id) for port, ids in self.received.items() if activity_id in ids})

    def total(self) -> int:
        with self._lock:
            return sum(len(ids) for ids in self.received.values())

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        port = scope["server"][1]
        delay = self.delay_for(port)
        if delay:
            await asyncio.sleep(delay)
        status = 202
        with self._lock:
            pending = self.failures.get(port)
            if pending:
                status = pending.pop(0)
            else:
                try:
                    self.received[port].append(str(json.loads(body).get("id")))
                except ValueError:
                    status = 400
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


@contextmanager
def running_sink(count: int) -> Iterator[Sink]:
    """A sink on ``count`` free ports of 127.0.0.1, served from a thread until the block ends."""
    sockets = []
    for _ in range(count):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        sockets.append(listener)
    sink = Sink(ports=[listener.getsockname()[1] for listener in sockets])
    server = uvicorn.Server(uvicorn.Config(sink, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("the sink did not start")
        time.sleep(0.01)
    try:
        yield sink
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        for listener in sockets:
            listener.close()
