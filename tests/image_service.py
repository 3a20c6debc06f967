"""A fake OpenAI-compatible image service: a real HTTP server on 127.0.0.1 speaking ``/v1/images/generations``.

``mode`` picks the answer (images, an error, a hang until ``release`` is set); ``requests`` records what
arrived and ``received`` is set when a request comes in.
"""

from __future__ import annotations

import asyncio
import base64
import io
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

API_KEY = "sk-test-SECRET-0123456789"


@dataclass
class FakeImagesAPI:
    """Speaks the documented ``/v1/images/generations`` shapes; ``mode`` picks the answer."""

    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def generations(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"body": body, "authorization": request.headers.get("authorization")})
        self.received.set()
        mode = self.mode
        if mode == "hang":  # answer only when the test lets go (or never, for timeouts)
            await asyncio.to_thread(self.release.wait, 10)
        if mode == "401":
            return JSONResponse(
                {
                    "error": {
                        "message": f"Incorrect API key provided: {API_KEY}.",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
                status_code=401,
            )
        if mode == "policy":
            return JSONResponse(
                {
                    "error": {
                        "message": "Your request was rejected as a result of our safety system.",
                        "type": "image_generation_user_error",
                        "code": "moderation_blocked",
                    }
                },
                status_code=400,
            )
        if mode == "400":
            return JSONResponse({"error": {"message": "Invalid size '64x64'.", "code": None}}, status_code=400)
        if mode == "429":
            return JSONResponse(
                {"error": {"message": "Rate limit reached"}}, status_code=429, headers={"Retry-After": "20"}
            )
        if mode == "500":
            return PlainTextResponse("upstream exploded", status_code=502)
        if mode == "badjson":
            return PlainTextResponse("<html>not json</html>", status_code=200)
        if mode == "notimage":
            return JSONResponse({"created": 1, "data": [{"b64_json": base64.b64encode(b"hello").decode()}]})
        if mode == "url":
            return JSONResponse({"created": 1, "data": [{"url": "https://files.example/img.png"}]})
        if mode == "empty":
            return JSONResponse({"created": 1, "data": []})
        width, height = (int(part) for part in body["size"].split("x"))
        data = [
            {"b64_json": _png(width, height, index), "revised_prompt": f"revised {index}"} for index in range(body["n"])
        ]
        return JSONResponse({"created": 1, "data": data, "usage": {"total_tokens": 10}})


def _png(width: int, height: int, index: int) -> str:
    output = io.BytesIO()
    Image.new("RGB", (width, height), (40 * index, 90, 200)).save(output, "PNG")
    return base64.b64encode(output.getvalue()).decode()


@contextmanager
def running_images_api() -> Iterator[tuple[FakeImagesAPI, str]]:
    """The fake service and its base URL, for as long as the context lasts."""
    fake = FakeImagesAPI()
    app = Starlette(routes=[Route("/v1/images/generations", fake.generations, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # connections queue here until uvicorn accepts: no start-up wait needed
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        fake.release.set()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
