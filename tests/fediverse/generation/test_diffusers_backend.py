"""The diffusers backend's real loading and generation code, on a tiny random-weight pipeline built on disk.

Needs the ``[diffusers]`` extra (torch, diffusers, transformers); skipped without it.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from fediverse.generation.base import (
    TRAINED_ALGORITHMIC_MEDIA,
    BackendConfigError,
    BackendUnavailableError,
    CancelToken,
    GenerationCancelled,
    GenerationRequest,
    Progress,
)
from fediverse.generation.diffusers_backend import DiffusersGenerator
from fediverse.generation.registry import create_generator

from .tiny_pipeline import build_tiny_pipeline


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture(scope="module")
def generator(model_dir: Path) -> DiffusersGenerator:
    created = create_generator(
        "diffusers",
        {
            "REVERIE_DIFFUSERS_MODEL_DIR": str(model_dir),
            "REVERIE_DIFFUSERS_MAX_SIDE": "256",
            "REVERIE_DIFFUSERS_STEPS": "2",
        },
    )
    assert isinstance(created, DiffusersGenerator)
    return created


def tiny(**changes: object) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "a red fox", "width": 64, "height": 64, "seed": 11, **changes})  # type: ignore[arg-type]


def test_loads_lazily_from_the_folder_and_generates(generator: DiffusersGenerator, model_dir: Path) -> None:
    events: list[Progress] = []
    images = generator.generate_sync(tiny(steps=3), progress=events.append)
    assert generator.loaded
    image = images[0]
    assert (image.mime, image.width, image.height, image.seed) == ("image/png", 64, 64, 11)
    assert image.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert image.metadata["model"] == model_dir.name
    assert image.metadata["pipeline"] == "StableDiffusionPipeline"
    assert image.metadata["parameters"]["steps"] == 3
    assert image.alt_text == "AI-generated image from the prompt: “a red fox”"
    with Image.open(io.BytesIO(image.data)) as decoded:
        assert decoded.size == (64, 64)
    stages = [(event.stage, event.step) for event in events if event.stage != "loading"]
    assert stages == [("denoising", 1), ("denoising", 2), ("denoising", 3), ("postprocess", 3)]


def test_same_seed_same_pixels_and_a_new_seed_changes_them(generator: DiffusersGenerator) -> None:
    first = generator.generate_sync(tiny())[0]
    again = generator.generate_sync(tiny())[0]
    other = generator.generate_sync(tiny(seed=12))[0]
    assert first.data == again.data
    assert first.data != other.data


def test_variants_negative_prompt_and_default_steps(generator: DiffusersGenerator) -> None:
    events: list[Progress] = []
    images = generator.generate_sync(tiny(variants=2, negative_prompt="blurry"), progress=events.append)
    assert [image.seed for image in images] == [11, 12]
    assert images[1].data == generator.generate_sync(tiny(seed=12, negative_prompt="blurry"))[0].data
    denoising = [event.step for event in events if event.stage == "denoising"]
    assert denoising == [1, 2, 3, 4]  # 2 default steps x 2 variants
    assert images[0].metadata["parameters"]["negative_prompt"] == "blurry"


def test_cancelling_from_a_step_stops_before_decoding(generator: DiffusersGenerator) -> None:
    token = CancelToken()
    steps: list[int] = []

    def on_progress(event: Progress) -> None:
        if event.stage == "denoising":
            steps.append(event.step)
            token.cancel()

    with pytest.raises(GenerationCancelled):
        generator.generate_sync(tiny(steps=6), progress=on_progress, cancel=token)
    assert steps == [1]


def test_async_jobs_run_one_at_a_time(generator: DiffusersGenerator) -> None:
    events: list[tuple[str, int]] = []

    async def scenario() -> None:
        await asyncio.gather(
            generator.generate(tiny(prompt="a", steps=3), progress=lambda e: events.append(("a", e.step))),
            generator.generate(tiny(prompt="b", steps=3), progress=lambda e: events.append(("b", e.step))),
        )

    asyncio.run(scenario())
    jobs = [job for job, _ in events]
    assert jobs in (["a"] * 4 + ["b"] * 4, ["b"] * 4 + ["a"] * 4)  # never interleaved


def test_configuration_errors_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(BackendConfigError) as caught:
        create_generator("diffusers", {})
    assert caught.value.variable == "REVERIE_DIFFUSERS_MODEL_DIR"
    with pytest.raises(BackendConfigError, match=r"no model_index\.json"):
        create_generator("diffusers", {"REVERIE_DIFFUSERS_MODEL_DIR": str(tmp_path)})
    (tmp_path / "model_index.json").write_text("{}")
    with pytest.raises(BackendConfigError) as caught:
        create_generator("diffusers", {"REVERIE_DIFFUSERS_MODEL_DIR": str(tmp_path), "REVERIE_DIFFUSERS_DEVICE": "tpu"})
    assert caught.value.variable == "REVERIE_DIFFUSERS_DEVICE"


def test_a_broken_model_folder_fails_with_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text(
        '{"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}'
    )
    broken = create_generator("diffusers", {"REVERIE_DIFFUSERS_MODEL_DIR": str(tmp_path)})
    with pytest.raises(BackendUnavailableError, match="Could not load the image model"):
        broken.generate_sync(tiny())  # type: ignore[attr-defined]
