from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from fediverse.generation.base import ALGORITHMIC_MEDIA, GenerationRequest
from fediverse.generation.procedural import ProceduralGenerator
from fediverse.generation.provenance import (
    ProvenanceInfo,
    build_parameters_text,
    embed_provenance,
    generation_metadata,
    provenance_from_image,
    read_parameters_text,
    render_provenance_line,
)
from fediverse.imaging import process_image_sync

PROMPT = "crème brûlée sunset over the sea, «calm»"


def generated(output_format: str):  # type: ignore[no-untyped-def]
    painter = ProceduralGenerator(output_format=output_format)  # type: ignore[arg-type]
    request = GenerationRequest(prompt=PROMPT, negative_prompt="rain", seed=1234, width=256, height=256)
    return painter.generate_sync(request)[0]


def info_for(output_format: str, **changes: object) -> tuple[bytes, str, ProvenanceInfo]:
    image = generated(output_format)
    info = provenance_from_image(
        image, prompt=PROMPT, negative_prompt="rain", remix_of="https://other.example/notes/1", **changes
    )  # type: ignore[arg-type]
    return embed_provenance(image.data, image.mime, info, width=256, height=256), image.mime, info


def xmp_of(image: Image.Image) -> str:
    raw = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)


@pytest.mark.parametrize("output_format", ["png", "jpeg"])
def test_metadata_reads_back_with_pillow(output_format: str) -> None:
    data, mime, _ = info_for(output_format)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.format == {"image/png": "PNG", "image/jpeg": "JPEG"}[mime]
        parameters = read_parameters_text(image)
        xmp = xmp_of(image)
    assert parameters is not None
    lines = parameters.split("\n")
    assert lines[0] == PROMPT
    assert lines[1] == "Negative prompt: rain"
    assert "Seed: 1234" in lines[2] and "Size: 256x256" in lines[2]
    assert "Model: procedural mood painter 1.0" in lines[2]
    assert f"<Iptc4xmpExt:DigitalSourceType>{ALGORITHMIC_MEDIA}</Iptc4xmpExt:DigitalSourceType>" in xmp
    assert "crème brûlée sunset over the sea, «calm»" in xmp
    assert "<xmp:CreatorTool>Reverie · procedural mood painter 1.0</xmp:CreatorTool>" in xmp


@pytest.mark.parametrize("output_format", ["png", "jpeg"])
def test_embedding_does_not_touch_pixels(output_format: str) -> None:
    image = generated(output_format)
    data, _, _ = info_for(output_format)
    with Image.open(io.BytesIO(image.data)) as before, Image.open(io.BytesIO(data)) as after:
        assert before.tobytes() == after.tobytes()


def test_hidden_prompts_stay_out_of_the_file_and_the_note() -> None:
    data, _, info = info_for("png", hide_prompt=True)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        parameters = read_parameters_text(image) or ""
        assert "crème" not in parameters and "crème" not in xmp_of(image)
    # Nor what would confirm a guess (seed, style, size asked for) or a backend parameter (the negative prompt)
    assert parameters.startswith("(prompt hidden)\n") and "Seed" not in parameters and "rain" not in parameters
    metadata = generation_metadata(info)
    assert metadata["prompt"] is metadata["seed"] is metadata["negativePrompt"] is None and metadata["parameters"] == {}
    assert render_provenance_line(info) == "🎨 Generated with procedural mood painter 1.0"


def test_provenance_survives_the_imaging_pipeline_for_generated_images_only() -> None:
    data, _, _ = info_for("jpeg")
    kept = process_image_sync(data, keep_original=True)
    assert kept.original.data == data
    stripped = process_image_sync(data)
    with Image.open(io.BytesIO(stripped.original.data)) as image:
        assert read_parameters_text(image) is None and "xmp" not in image.info


def test_generation_metadata_for_the_note() -> None:
    _, _, info = info_for("jpeg")
    metadata = generation_metadata(info)
    assert set(metadata) == {
        "prompt",
        "negativePrompt",
        "seed",
        "backend",
        "model",
        "parameters",
        "digitalSourceType",
        "remixOf",
    }
    assert metadata["seed"] == 1234
    assert metadata["remixOf"] == "https://other.example/notes/1"
    assert metadata["digitalSourceType"] == ALGORITHMIC_MEDIA
    assert json.loads(json.dumps(metadata)) == metadata


def test_the_human_provenance_line() -> None:
    _, _, info = info_for("jpeg")
    assert render_provenance_line(info) == (
        "🎨 Generated with procedural mood painter 1.0 · seed 1234 · prompt: “crème brûlée sunset over the sea, «calm»”"
    )
    long_info = ProvenanceInfo(
        digital_source_type=ALGORITHMIC_MEDIA,
        creator_tool="Reverie",
        prompt="word " * 200,
        negative_prompt=None,
        seed=None,
        backend="openai",
        model="gpt-image-1",
        parameters={},
    )
    line = render_provenance_line(long_info, max_prompt_chars=50)
    assert line.startswith("🎨 Generated with gpt-image-1 · prompt: “word word")
    assert line.endswith("…”") and "seed" not in line


def test_parameters_text_quotes_values_that_would_break_parsing() -> None:
    info = ProvenanceInfo(
        digital_source_type=ALGORITHMIC_MEDIA,
        creator_tool="Reverie",
        prompt="sea",
        negative_prompt=None,
        seed=5,
        backend="diffusers",
        model="tiny, random",
        parameters={"steps": 4, "style": "none"},
    )
    text = build_parameters_text(info, 64, 64)
    assert text == (
        'sea\nSteps: 4, Seed: 5, Size: 64x64, Model: "tiny, random", Backend: diffusers, '
        "Digital source type: algorithmicMedia"
    )


def test_embedding_rejects_other_formats() -> None:
    _, _, info = info_for("png")
    with pytest.raises(ValueError, match="cannot embed"):
        embed_provenance(b"RIFF....WEBP", "image/webp", info, width=1, height=1)
    with pytest.raises(ValueError, match="not a PNG"):
        embed_provenance(b"nope", "image/png", info, width=1, height=1)
