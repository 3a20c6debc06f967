"""What counting, timing and logging each request costs (``fediverse.web.operations.RequestMetricsMiddleware``).

One command: ``python bench/bench_request_metrics.py``. The same small Starlette app (one templated route,
as ``/users/{username}``) is called straight through ASGI (no sockets, so the middleware's share is not
hidden by the network) in four forms, interleaved in rounds: bare (the baseline); with a uvicorn-style
access line (what ``reverie serve`` logged per request before); with the middleware and its log line
off; and with the middleware writing its log line (what ``reverie serve`` does now at the default level).
Log lines go to ``/dev/null`` through the same handler. Prints microseconds per request and the
ratio to the bare app measured in the same run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import harness  # puts this checkout first on sys.path
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from fediverse.web.operations import RequestMetricsMiddleware, request_log

REQUESTS = 10_000
ROUNDS = 7


async def endpoint(request: Request) -> Response:
    return PlainTextResponse(request.path_params["username"])


class UvicornStyleAccessLog:
    """What ``reverie serve`` had before: uvicorn's access line (its format, same handler), nothing else."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        status = 500

        async def note(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, note)
        client = scope["client"]
        access_log.info(
            '%s - "%s %s HTTP/%s" %d', f"{client[0]}:{client[1]}", scope["method"], scope["path"], "1.1", status
        )


access_log = logging.getLogger("bench.access")


def make_app(metered: bool, access: bool = False) -> Starlette:
    middleware = [Middleware(RequestMetricsMiddleware)] if metered else []
    middleware += [Middleware(UvicornStyleAccessLog)] if access else []
    return Starlette(routes=[Route("/users/{username}", endpoint)], middleware=middleware)


async def drive(app: Any, count: int) -> float:
    """Seconds for ``count`` GETs through ``app``."""
    scope_template = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/users/ana",
        "raw_path": b"/users/ana",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict[str, Any]) -> None:
        return None

    started = time.perf_counter()
    for _ in range(count):
        await app(dict(scope_template), receive, send)
    return time.perf_counter() - started


async def main() -> None:
    sink = logging.FileHandler("/dev/null")
    sink.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for logger in (request_log, access_log):
        logger.addHandler(sink)
        logger.propagate = False
        logger.setLevel(logging.INFO)
    bare, uvicorn_style, metered = make_app(False), make_app(False, access=True), make_app(True)
    for app in (bare, uvicorn_style, metered):
        await drive(app, 500)  # warm up (routing compiled, metric children created)
    names = ("bare app (baseline)", "+ uvicorn access line", "middleware, log off", "middleware + log line")
    results: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(ROUNDS):
        results[names[0]].append(await drive(bare, REQUESTS))
        results[names[1]].append(await drive(uvicorn_style, REQUESTS))
        request_log.setLevel(logging.WARNING)
        results[names[2]].append(await drive(metered, REQUESTS))
        request_log.setLevel(logging.INFO)
        results[names[3]].append(await drive(metered, REQUESTS))
    baseline = harness.median(results["bare app (baseline)"])
    print(f"{REQUESTS} requests x {ROUNDS} rounds, straight through ASGI (median round)")
    for name, seconds in results.items():
        middle = harness.median(seconds)
        print(f"  {name:<24} {middle / REQUESTS * 1e6:7.1f} µs/request   x{middle / baseline:.2f} of the bare app")


if __name__ == "__main__":
    asyncio.run(main())
