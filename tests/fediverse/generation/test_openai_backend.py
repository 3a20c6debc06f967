"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (uvicorn in a thread)."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

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
from tests.image_service import API_KEY, FakeImagesAPI, running_images_api


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[FakeImagesAPI, str]]:
    with running_images_api() as running:
        yield running


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
