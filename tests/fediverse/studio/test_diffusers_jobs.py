"""A generation job on the diffusers backend (a tiny random-weight pipeline built offline): steps, PNG
originals, trained-model labels and hiding the prompt in a PNG file."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient

pytest.importorskip("diffusers")

from fediverse.generation import TRAINED_ALGORITHMIC_MEDIA
from fediverse.generation.provenance import read_parameters_text
from tests.conftest import TEST_BASE_URL
from tests.fediverse.generation.tiny_pipeline import build_tiny_pipeline
from tests.fediverse.studio.conftest import create_user, generate, sign_in


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd"))


def test_a_diffusers_job_paints_labels_and_hides_the_prompt_in_png(
    client_with: Callable[..., TestClient], model_dir: Path
) -> None:
    # Given an instance running a (tiny) Stable Diffusion model
    client = client_with(
        REVERIE_GENERATOR="diffusers", REVERIE_DIFFUSERS_MODEL_DIR=str(model_dir), REVERIE_DIFFUSERS_MAX_SIDE="256"
    )
    ana = sign_in(client, create_user(client, "ana"))
    capabilities = ana.get("/api/generator").json()
    assert capabilities["backend"] == "diffusers" and capabilities["supports_steps"]
    assert (capabilities["default_width"], capabilities["default_height"]) == (256, 256)
    # When ana asks for 6 steps at 64 px
    job = generate(ana, prompt="a red fox", seed=11, steps=6, negative_prompt="blur")
    # Then each step was progress, and the image is labelled as a trained model's
    assert job["state"] == "succeeded", job["error"]
    assert job["progress"] == {"step": 6, "total": 6}
    (media,) = job["media"]
    assert media["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA
    assert media["generation"]["model"] == model_dir.name and media["generation"]["parameters"]["steps"] == 6
    # When she publishes it with the prompt hidden (after describing it herself)
    alt = {str(media["id"]): "A blurry red and green square"}
    post = ana.post("/api/posts", json={"media_ids": [media["id"]], "hide_prompt": True, "alt_texts": alt})
    assert post.status_code == 201, post.text
    # Then the kept PNG original no longer names the prompt, and the display copy is a JPEG
    note = ana.get("/users/ana/outbox?page=true", headers={"Accept": "application/activity+json"}).json()
    attachment = note["orderedItems"][0]["object"]["attachment"][0]
    assert attachment["mediaType"] == "image/jpeg"
    originals = [path for path in client.app_state["services"].settings.media_dir.rglob("*.png")]
    assert len(originals) == 1
    with Image.open(io.BytesIO(originals[0].read_bytes())) as image:
        parameters = read_parameters_text(image) or ""
    assert parameters.startswith("(prompt hidden)\n") and "Steps" not in parameters and "red fox" not in parameters
    assert "Model: " in parameters and "Negative prompt" not in parameters  # the generator stays, its settings go
    assert client.get(attachment["url"].removeprefix(TEST_BASE_URL)).status_code == 200
