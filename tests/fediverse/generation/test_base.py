from __future__ import annotations

import asyncio
import json
import threading

import pytest

from fediverse.generation.base import (
    CancelToken,
    Capabilities,
    GenerationCancelled,
    GenerationRequest,
    InvalidRequestError,
    Progress,
    progress_on_loop,
    validate_request,
)

CAPS = Capabilities(
    sizes=((512, 512), (1024, 1024)),
    max_side=1024,
    max_pixels=1024 * 1024,
    supports_seed=True,
    supports_steps=True,
    max_steps=20,
    supports_styles=True,
    styles=("none", "watercolor"),
)


def check(**changes: object) -> str:
    request = GenerationRequest(**{"prompt": "a calm sea", "width": 512, "height": 512, **changes})  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError) as caught:
        validate_request(request, CAPS)
    return str(caught.value)


def test_a_valid_request_passes() -> None:
    validate_request(GenerationRequest(prompt="a calm sea", width=1024, height=512, seed=7, steps=4, variants=4), CAPS)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"prompt": "   "}, "prompt is empty"),
        ({"prompt": "x" * 2001}, "2000 characters"),
        ({"variants": 0}, "1 to 4 images"),
        ({"variants": 5}, "1 to 4 images"),
        ({"width": 2048}, "between 64 and 1024"),
        ({"height": 32}, "between 64 and 1024"),
        ({"width": 500}, "multiples of 8"),
        ({"seed": -1}, "0 to 4294967295"),
        ({"seed": 2**32}, "0 to 4294967295"),
        ({"steps": 21}, "between 1 and 20"),
        ({"style": "cubism"}, "Unknown style 'cubism'; choose one of: none, watercolor"),
        ({"negative_prompt": "rain"}, "does not support a negative prompt"),
    ],
)
def test_invalid_requests_get_clear_messages(changes: dict[str, object], expected: str) -> None:
    assert expected in check(**changes)


def test_fixed_size_backends_list_their_sizes() -> None:
    fixed = Capabilities(
        sizes=((1024, 1024), (1536, 1024)), max_side=1536, max_pixels=1536 * 1024, arbitrary_sizes=False
    )
    with pytest.raises(InvalidRequestError, match=r"these sizes only: 1024x1024, 1536x1024"):
        validate_request(GenerationRequest(prompt="sea", width=512, height=512), fixed)


def test_seedless_backends_refuse_a_seed() -> None:
    seedless = Capabilities(sizes=((512, 512),), max_side=512, max_pixels=512 * 512)
    with pytest.raises(InvalidRequestError, match="cannot reproduce a seed"):
        validate_request(GenerationRequest(prompt="sea", width=512, height=512, seed=3), seedless)


def test_too_many_pixels_is_reported_in_megapixels() -> None:
    caps = Capabilities(sizes=(), max_side=2048, max_pixels=2048 * 1024)
    with pytest.raises(InvalidRequestError, match=r"at most 2\.1 megapixels"):
        validate_request(GenerationRequest(prompt="sea", width=2048, height=2048), caps)


def test_capabilities_serialise_to_json() -> None:
    document = json.loads(json.dumps(CAPS.to_dict()))
    assert document["sizes"] == [[512, 512], [1024, 1024]]
    assert document["styles"] == ["none", "watercolor"]
    assert document["max_variants"] == 4
    assert document["supports_seed"] is True


def test_cancel_token_raises_and_runs_callbacks_once() -> None:
    token = CancelToken()
    calls: list[str] = []
    token.on_cancel(lambda: calls.append("first"))
    unregister = token.on_cancel(lambda: calls.append("removed"))
    unregister()
    token.raise_if_cancelled()
    token.cancel()
    token.cancel()
    assert calls == ["first"]
    assert token.cancelled
    with pytest.raises(GenerationCancelled):
        token.raise_if_cancelled()
    token.on_cancel(lambda: calls.append("late"))
    assert calls == ["first", "late"]


def test_progress_on_loop_delivers_thread_events_on_the_loop() -> None:
    async def scenario() -> list[tuple[int, bool]]:
        loop_thread = threading.get_ident()
        seen: list[tuple[int, bool]] = []
        done = asyncio.Event()

        def on_progress(event: Progress) -> None:
            seen.append((event.step, threading.get_ident() == loop_thread))
            if event.step == event.total:
                done.set()

        report = progress_on_loop(on_progress)

        def work() -> None:
            for step in (1, 2, 3):
                report(Progress(step, 3, "painting"))

        await asyncio.to_thread(work)
        await done.wait()
        return seen

    assert asyncio.run(scenario()) == [(1, True), (2, True), (3, True)]
