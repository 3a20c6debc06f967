from __future__ import annotations

import asyncio
import colorsys
import io
import threading

import numpy as np
import pytest
from PIL import Image

from fediverse.generation.base import (
    ALGORITHMIC_MEDIA,
    CancelToken,
    GenerationCancelled,
    GenerationRequest,
    InvalidRequestError,
    Progress,
)
from fediverse.generation.procedural import GENERATOR_VERSION, ProceduralGenerator

from .conftest import pixels_of

SMALL = {"width": 256, "height": 256}


def paint(generator: ProceduralGenerator, prompt: str, seed: int = 7, **changes: object) -> list:  # type: ignore[type-arg]
    request = GenerationRequest(prompt=prompt, seed=seed, **{**SMALL, **changes})  # type: ignore[arg-type]
    return generator.generate_sync(request)


def histogram(pixels: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    counts, _ = np.histogramdd(pixels.reshape(-1, 3), bins=(6, 6, 6), range=((0, 256),) * 3)
    return counts.ravel() / counts.sum()


def test_same_prompt_and_seed_give_identical_bytes(painter: ProceduralGenerator) -> None:
    first = paint(painter, "a lighthouse on a stormy sea at dusk")[0]
    second = paint(ProceduralGenerator(), "A lighthouse on a  stormy sea at dusk")[0]
    assert first.data == second.data
    assert first.seed == second.seed == 7


def test_a_different_seed_gives_a_different_image(painter: ProceduralGenerator) -> None:
    first = pixels_of(paint(painter, "mountains over a lake", seed=1)[0])
    second = pixels_of(paint(painter, "mountains over a lake", seed=2)[0])
    assert np.abs(first - second).mean() > 3.0


def test_different_prompts_give_clearly_different_images(painter: ProceduralGenerator) -> None:
    prompts = ["a starry night over the city", "a sunny meadow full of flowers", "abstract swirl", "a foggy forest"]
    histograms = [histogram(pixels_of(paint(painter, prompt)[0])) for prompt in prompts]
    for i in range(len(prompts)):
        for j in range(i + 1, len(prompts)):
            distance = 0.5 * np.abs(histograms[i] - histograms[j]).sum()  # total variation, 0..1
            assert distance > 0.3, (prompts[i], prompts[j], distance)


def mean_hue(pixels: np.ndarray) -> float:  # type: ignore[type-arg]
    mean = pixels.reshape(-1, 3).mean(axis=0) / 255.0
    return colorsys.rgb_to_hsv(*mean)[0]


def test_colour_words_move_the_palette(painter: ProceduralGenerator) -> None:
    crimson = pixels_of(paint(painter, "crimson sky over the hills")[0])
    teal = pixels_of(paint(painter, "teal sky over the hills")[0])
    crimson_mean, teal_mean = crimson.reshape(-1, 3).mean(axis=0), teal.reshape(-1, 3).mean(axis=0)
    assert crimson_mean[0] > crimson_mean[2] + 15  # more red than blue
    assert teal_mean[2] > teal_mean[0] + 15 and teal_mean[1] > teal_mean[0] + 15
    hue_gap = abs(mean_hue(crimson) - mean_hue(teal))
    assert min(hue_gap, 1 - hue_gap) > 0.3


@pytest.mark.parametrize("style", ["watercolor", "pixel", "noir", "poster", "synthwave", "pastel", "ink"])
def test_each_style_changes_the_output(painter: ProceduralGenerator, style: str) -> None:
    plain = pixels_of(paint(painter, "a cabin by the lake at sunset")[0])
    styled_image = paint(painter, "a cabin by the lake at sunset", style=style)[0]
    styled = pixels_of(styled_image)
    assert np.abs(plain - styled).mean() > 4.0
    assert styled_image.metadata["recipe"]["style"] == style


def test_noir_is_monochrome_and_pixel_has_few_colours(painter: ProceduralGenerator) -> None:
    noir = pixels_of(paint(painter, "noir city in the rain")[0])
    assert np.abs(noir[..., 0] - noir[..., 1]).mean() < 4  # grey with a faint silver-gelatin warmth
    assert np.abs(noir[..., 0] - noir[..., 2]).mean() < 12
    pixel = paint(painter, "pixel art castle in the mountains")[0]
    assert pixel.mime == "image/png"
    colours = np.unique(pixels_of(pixel).reshape(-1, 3), axis=0)
    assert len(colours) <= 20


def test_metadata_alt_text_and_source_type(painter: ProceduralGenerator) -> None:
    image = paint(painter, "a sailboat on the ocean under the moon, watercolor")[0]
    assert image.digital_source_type == ALGORITHMIC_MEDIA
    assert image.mime == "image/jpeg"
    assert (image.width, image.height) == (256, 256)
    assert image.metadata["backend"] == "procedural"
    assert image.metadata["version"] == GENERATOR_VERSION
    assert set(image.metadata["drawn"]) >= {"moon", "water", "boat"}
    alt = image.alt_text
    assert alt.startswith("Procedurally generated illustration in a watercolor style:")
    for phrase in ("a bright moon", "water reflecting the sky", "a sailboat on the water"):
        assert phrase in alt


def test_sizes_and_aspect(painter: ProceduralGenerator) -> None:
    image = paint(painter, "city skyline", width=320, height=480)[0]
    with Image.open(io.BytesIO(image.data)) as decoded:
        assert decoded.size == (320, 480)


def test_variants_have_consecutive_seeds_and_differ(painter: ProceduralGenerator) -> None:
    images = paint(painter, "desert dunes", seed=100, variants=3)
    assert [image.seed for image in images] == [100, 101, 102]
    assert len({image.data for image in images}) == 3
    assert images[1].data == paint(painter, "desert dunes", seed=101)[0].data


def test_without_a_seed_one_is_picked_and_reported(painter: ProceduralGenerator) -> None:
    image = painter.generate_sync(GenerationRequest(prompt="rainy forest", **SMALL))[0]
    assert image.seed is not None
    assert paint(painter, "rainy forest", seed=image.seed)[0].data == image.data


def test_limits_are_enforced(painter: ProceduralGenerator) -> None:
    with pytest.raises(InvalidRequestError, match="1 to 4 images"):
        paint(painter, "sea", variants=5)
    with pytest.raises(InvalidRequestError, match="between 64 and 2048"):
        paint(painter, "sea", width=4096)
    with pytest.raises(InvalidRequestError, match="Unknown style"):
        paint(painter, "sea", style="baroque")


def test_progress_events_arrive_in_order(painter: ProceduralGenerator) -> None:
    events: list[Progress] = []
    painter.generate_sync(
        GenerationRequest(prompt="mountains and a forest under the stars", seed=1, variants=2, **SMALL),
        progress=events.append,
    )
    total = events[0].total  # both variants together, so a progress bar only moves forward
    per_image = total // 2
    assert per_image >= 5 and total == 2 * per_image
    assert [event.step for event in events] == list(range(1, total + 1))
    assert {event.total for event in events} == {total}
    assert events[per_image - 1].stage == events[-1].stage == "postprocess"
    assert all(event.stage == "painting" for event in events[: per_image - 1])


def test_cancellation_mid_run_stops_painting(painter: ProceduralGenerator) -> None:
    token = CancelToken()
    events: list[Progress] = []

    def on_progress(event: Progress) -> None:
        events.append(event)
        if event.step == 2:
            token.cancel()

    with pytest.raises(GenerationCancelled):
        painter.generate_sync(
            GenerationRequest(prompt="city by the sea with rain", seed=1, **SMALL), progress=on_progress, cancel=token
        )
    assert [event.step for event in events] == [1, 2]


def test_generate_runs_off_the_event_loop(painter: ProceduralGenerator) -> None:
    async def scenario() -> tuple[int, set[int]]:
        threads: set[int] = set()
        await painter.generate(
            GenerationRequest(prompt="a calm sea", seed=3, **SMALL),
            progress=lambda event: threads.add(threading.get_ident()),
        )
        return threading.get_ident(), threads

    loop_thread, worker_threads = asyncio.run(scenario())
    assert worker_threads and loop_thread not in worker_threads


def test_async_generate_validates_before_starting(painter: ProceduralGenerator) -> None:
    with pytest.raises(InvalidRequestError):
        asyncio.run(painter.generate(GenerationRequest(prompt="", **SMALL)))
