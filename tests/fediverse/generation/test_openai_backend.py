"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (uvicorn in a thread)."""

from __future__ import annotations

import asyncio
import base64
import io
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from fediverse.generation.base import (
    TRAINED_ALGORITHMIC_MEDIA,
    BackendUnavailableError,
    CancelToken,
    GenerationCancelled,
    GenerationError,
    GenerationRequest,
    InvalidRequestError,
    Progress,
)
from fediverse.generation.openai_backend import OpenAIImageGenerator, OpenAISettings, RateLimitedError

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


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[FakeImagesAPI, str]]:
    fake = FakeImagesAPI()
    app = Starlette(routes=[Route("/v1/images/generations", fake.generations, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # connections queue here until uvicorn accepts: no start-up wait needed
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{port}"
    fake.release.set()
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def fake(api: tuple[FakeImagesAPI, str]) -> FakeImagesAPI:
    server = api[0]
    server.mode, server.requests = "ok", []
    server.received.clear()
    server.release.clear()
    return server


def backend(api: tuple[FakeImagesAPI, str], **changes: Any) -> OpenAIImageGenerator:
    settings = OpenAISettings(
        **{"base_url": api[1], "api_key": API_KEY, "model": "dall-e-3", "timeout": 5.0, **changes}
    )
    return OpenAIImageGenerator(settings)


def request(**changes: Any) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "a lighthouse in the fog", "width": 1024, "height": 1024, **changes})


def test_generates_images_from_b64_json(api: tuple[FakeImagesAPI, str], fake: FakeImagesAPI) -> None:
    events: list[Progress] = []
    images = asyncio.run(backend(api).generate(request(variants=2, width=1536), progress=events.append))
    assert len(images) == 2
    first = images[0]
    assert (first.mime, first.width, first.height, first.seed) == ("image/png", 1536, 1024, None)
    assert first.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert first.alt_text == "AI-generated image from the prompt: “a lighthouse in the fog”"
    assert first.metadata["model"] == "dall-e-3"
    assert first.metadata["revised_prompt"] == "revised 0"
    assert first.metadata["parameters"]["reproducible"] is False
    with Image.open(io.BytesIO(images[1].data)) as decoded:
        assert decoded.getpixel((0, 0)) == (40, 90, 200)
    sent = fake.requests[0]
    assert sent["body"] == {
        "model": "dall-e-3",
        "prompt": "a lighthouse in the fog",
        "n": 2,
        "size": "1536x1024",
        "response_format": "b64_json",
    }
    assert sent["authorization"] == f"Bearer {API_KEY}"
    assert [event.stage for event in events] == ["queued", "done"]


def test_gpt_image_models_are_not_sent_a_response_format(api: tuple[FakeImagesAPI, str], fake: FakeImagesAPI) -> None:
    asyncio.run(backend(api, model="gpt-image-1", quality="low").generate(request()))
    assert fake.requests[0]["body"] == {
        "model": "gpt-image-1",
        "prompt": "a lighthouse in the fog",
        "n": 1,
        "size": "1024x1024",
        "quality": "low",
    }


def test_no_seed_and_only_offered_sizes(api: tuple[FakeImagesAPI, str], fake: FakeImagesAPI) -> None:
    generator = backend(api)
    assert not generator.capabilities.supports_seed
    with pytest.raises(InvalidRequestError, match="cannot reproduce a seed"):
        asyncio.run(generator.generate(request(seed=1)))
    with pytest.raises(InvalidRequestError, match="these sizes only"):
        asyncio.run(generator.generate(request(width=512, height=512)))
    assert fake.requests == []


@pytest.mark.parametrize(
    ("mode", "error_type", "message"),
    [
        ("401", BackendUnavailableError, "refused our credentials (HTTP 401)"),
        ("policy", InvalidRequestError, "refused this prompt under its content policy"),
        ("400", InvalidRequestError, "rejected the request: Invalid size '64x64'."),
        ("429", RateLimitedError, "Try again in 20 seconds"),
        ("500", BackendUnavailableError, "failed (HTTP 502)"),
        ("badjson", BackendUnavailableError, "unreadable answer"),
        ("notimage", BackendUnavailableError, "not an image"),
        ("url", BackendUnavailableError, "a link instead of image data"),
        ("empty", BackendUnavailableError, "without any image"),
    ],
)
def test_remote_errors_become_clear_messages_without_the_key(
    api: tuple[FakeImagesAPI, str], fake: FakeImagesAPI, mode: str, error_type: type[GenerationError], message: str
) -> None:
    fake.mode = mode
    with pytest.raises(error_type) as caught:
        asyncio.run(backend(api).generate(request()))
    assert message in str(caught.value)
    for text in (str(caught.value), caught.value.detail, repr(caught.value)):
        assert API_KEY not in text
    if mode == "429":
        assert isinstance(caught.value, RateLimitedError) and caught.value.retry_after == 20
    if mode == "401":
        assert "***" in caught.value.detail  # the echoed key was scrubbed from the logged detail


def test_timeouts_are_reported(api: tuple[FakeImagesAPI, str], fake: FakeImagesAPI) -> None:
    fake.mode = "hang"
    with pytest.raises(BackendUnavailableError, match=r"did not answer within 0\.3 seconds"):
        asyncio.run(backend(api, timeout=0.3).generate(request()))
    fake.release.set()


def test_unreachable_server(fake: FakeImagesAPI) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    generator = OpenAIImageGenerator(OpenAISettings(base_url=f"http://127.0.0.1:{port}", api_key=API_KEY))
    with pytest.raises(BackendUnavailableError, match="Could not reach the image service") as caught:
        asyncio.run(generator.generate(request()))
    assert API_KEY not in caught.value.detail


def test_cancelling_aborts_the_request(api: tuple[FakeImagesAPI, str], fake: FakeImagesAPI) -> None:
    fake.mode = "hang"
    token = CancelToken()

    async def scenario() -> None:
        job = asyncio.create_task(backend(api).generate(request(), cancel=token))
        await asyncio.to_thread(fake.received.wait, 5)  # the server has the request in hand
        token.cancel()
        await job

    with pytest.raises(GenerationCancelled):
        asyncio.run(scenario())
    fake.release.set()


def test_a_token_cancelled_before_the_start_sends_nothing(api: tuple[FakeImagesAPI, str], fake: FakeImagesAPI) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(GenerationCancelled):
        asyncio.run(backend(api).generate(request(), cancel=token))
    assert fake.requests == []
