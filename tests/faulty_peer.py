"""Remote inboxes that misbehave at the socket level: they hang, reset connections, redirect in loops or
answer errors, each on its own port of 127.0.0.1, until a test tells them to recover."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum


class Behaviour(StrEnum):
    HANG = "hang"  # read the request, never answer
    RESET = "reset"  # close the connection with a TCP reset
    REDIRECT_LOOP = "redirect-loop"  # 302 to itself, forever
    BAD_GATEWAY = "502"
    TOO_MANY = "429"  # with Retry-After: 120
    ACCEPT = "accept"  # 202: recovered


class FaultyPeer:
    def __init__(self, count: int) -> None:
        self.sockets = []
        for _ in range(count):
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            listener.setblocking(False)
            self.sockets.append(listener)
        self.ports = [listener.getsockname()[1] for listener in self.sockets]
        self.behaviour: dict[int, Behaviour] = {}
        self.accepted: defaultdict[int, list[str]] = defaultdict(list)
        self.attempts: defaultdict[int, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._release = asyncio.Event()
        self._stopping = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()

    def inbox_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/inbox"

    def set(self, port: int, behaviour: Behaviour) -> None:
        with self._lock:
            self.behaviour[port] = behaviour

    def received(self, port: int) -> list[str]:
        with self._lock:
            return list(self.accepted[port])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await self._answer(reader, writer)
        finally:
            writer.close()
            self._handlers.discard(asyncio.current_task())  # type: ignore[arg-type]

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = writer.get_extra_info("sockname")[1]
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            body = await reader.readexactly(length)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return
        with self._lock:
            behaviour = self.behaviour.get(port, Behaviour.ACCEPT)
            self.attempts[port] += 1
            if behaviour == Behaviour.ACCEPT:
                self.accepted[port].append(str(json.loads(body).get("id")))
        if behaviour == Behaviour.HANG:
            await self._release.wait()
        elif behaviour == Behaviour.RESET:
            raw = writer.get_extra_info("socket")
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        else:
            status, extra = {
                Behaviour.REDIRECT_LOOP: ("302 Found", f"Location: http://127.0.0.1:{port}/inbox\r\n"),
                Behaviour.BAD_GATEWAY: ("502 Bad Gateway", ""),
                Behaviour.TOO_MANY: ("429 Too Many Requests", "Retry-After: 120\r\n"),
                Behaviour.ACCEPT: ("202 Accepted", ""),
            }[behaviour]
            writer.write(f"HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()

    def run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            servers = [await asyncio.start_server(self._serve, sock=listener) for listener in self.sockets]
            self._started.set()
            await self._stopping.wait()
            self._release.set()
            for server in servers:
                server.close()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            for server in servers:
                await server.wait_closed()

        self._loop.run_until_complete(main())
        self._loop.close()

    @contextmanager
    def running(self) -> Iterator[FaultyPeer]:
        self._started = threading.Event()
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        if not self._started.wait(10):
            raise TimeoutError("the faulty peer did not start")
        try:
            yield self
        finally:
            self._loop.call_soon_threadsafe(self._stopping.set)
            thread.join(timeout=10)
