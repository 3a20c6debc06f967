from __future__ import annotations

import json

import pytest

from fediverse.generation import create_generator, known_generators
from fediverse.generation.base import BackendConfigError, ImageGenerator
from fediverse.generation.openai_backend import OpenAIImageGenerator
from fediverse.generation.procedural import ProceduralGenerator


def test_procedural_is_the_offline_default() -> None:
    generator = create_generator("procedural", {})
    assert isinstance(generator, ProceduralGenerator)
    assert isinstance(generator, ImageGenerator)
    assert json.dumps(generator.capabilities.to_dict())
    assert create_generator(" Procedural ", {"REVERIE_GENERATION_FORMAT": "png"}).output_format == "png"  # type: ignore[attr-defined]


def test_unknown_backends_list_the_known_ones() -> None:
    with pytest.raises(BackendConfigError) as caught:
        create_generator("dalle-on-a-toaster", {})
    assert caught.value.variable == "REVERIE_GENERATOR"
    assert "known: diffusers, openai, procedural" in str(caught.value)
    assert known_generators() == ("diffusers", "openai", "procedural")


def test_openai_settings_are_read_from_the_environment_mapping() -> None:
    generator = create_generator(
        "openai",
        {
            "REVERIE_OPENAI_BASE_URL": "http://127.0.0.1:8080/v1/",
            "REVERIE_OPENAI_API_KEY": "sk-x",
            "REVERIE_OPENAI_MODEL": "sd-turbo",
            "REVERIE_GENERATION_TIMEOUT": "30",
            "REVERIE_OPENAI_SIZES": "512x512, 768x768",
        },
    )
    assert isinstance(generator, OpenAIImageGenerator)
    settings = generator.settings
    assert (settings.base_url, settings.api_key, settings.model, settings.timeout) == (
        "http://127.0.0.1:8080",
        "sk-x",
        "sd-turbo",
        30.0,
    )
    assert generator.capabilities.sizes == ((512, 512), (768, 768))


@pytest.mark.parametrize(
    ("options", "variable"),
    [
        ({}, "REVERIE_OPENAI_BASE_URL"),
        ({"REVERIE_OPENAI_BASE_URL": "ftp://example.com"}, "REVERIE_OPENAI_BASE_URL"),
        ({"REVERIE_OPENAI_BASE_URL": "http://x", "REVERIE_GENERATION_TIMEOUT": "soon"}, "REVERIE_GENERATION_TIMEOUT"),
        ({"REVERIE_OPENAI_BASE_URL": "http://x", "REVERIE_GENERATION_TIMEOUT": "0"}, "REVERIE_GENERATION_TIMEOUT"),
        ({"REVERIE_OPENAI_BASE_URL": "http://x", "REVERIE_OPENAI_SIZES": "big"}, "REVERIE_OPENAI_SIZES"),
        (
            {"REVERIE_OPENAI_BASE_URL": "http://x", "REVERIE_OPENAI_RESPONSE_FORMAT": "url"},
            "REVERIE_OPENAI_RESPONSE_FORMAT",
        ),
    ],
)
def test_bad_openai_settings_name_the_variable(options: dict[str, str], variable: str) -> None:
    with pytest.raises(BackendConfigError) as caught:
        create_generator("openai", options)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable + ":")


def test_bad_output_format_names_the_variable() -> None:
    with pytest.raises(BackendConfigError) as caught:
        create_generator("procedural", {"REVERIE_GENERATION_FORMAT": "gif"})
    assert caught.value.variable == "REVERIE_GENERATION_FORMAT"
