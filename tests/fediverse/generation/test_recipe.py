from __future__ import annotations

import colorsys
import json

import pytest

from fediverse.generation.procedural.recipe import build_recipe, find_terms, normalize_prompt


def hue_distance(a: float, b: float) -> float:
    distance = abs(a - b) % 1.0
    return min(distance, 1.0 - distance)


def test_recipe_is_a_pure_function_of_the_normalised_prompt() -> None:
    first = build_recipe("A Calm   Lake at SUNSET")
    second = build_recipe("a calm lake at sunset")
    assert first == second
    assert first.prompt == "a calm lake at sunset"
    assert json.loads(json.dumps(first.to_dict())) == first.to_dict()


def test_motif_words_and_synonyms_are_detected() -> None:
    recipe = build_recipe("snowy peaks above a pine forest by the lake, starry sky")
    assert {"mountains", "forest", "water", "stars", "snow"} <= set(recipe.motifs)
    assert recipe.time == "night"  # stars imply night when no time word is given
    assert not recipe.inferred_motifs


def test_plurals_match_their_singular_entries() -> None:
    assert find_terms("two lighthouses and many clouds", ("lighthouse", "cloud")) == ["lighthouse", "cloud"]


def test_motifs_come_out_in_painting_order() -> None:
    recipe = build_recipe("rain over the city under the moon")
    assert recipe.motifs.index("moon") < recipe.motifs.index("city") < recipe.motifs.index("rain")


def test_colour_words_set_the_palette_hue() -> None:
    crimson = build_recipe("crimson dreams")
    teal = build_recipe("teal dreams")
    assert crimson.colours == ("crimson",)
    assert hue_distance(crimson.primary_hue, 0.96) < 0.03
    assert hue_distance(teal.primary_hue, 0.5) < 0.03
    sky_crimson = colorsys.rgb_to_hsv(*crimson.palette["sky_top"])[0]
    sky_teal = colorsys.rgb_to_hsv(*teal.palette["sky_top"])[0]
    assert hue_distance(sky_crimson, sky_teal) > 0.35


def test_mood_words_grade_the_picture() -> None:
    assert build_recipe("a melancholy harbour").grade.saturation < 0.7
    assert build_recipe("a vibrant harbour").grade.saturation > 1.2
    assert build_recipe("a foggy harbour").grade.fog > 0.5


def test_style_words_and_explicit_style() -> None:
    assert build_recipe("watercolour of a fox").style == "watercolor"
    assert build_recipe("8-bit castle").style == "pixel"
    assert build_recipe("a black and white street").style == "noir"
    assert build_recipe("a fox", style="poster").style == "poster"
    assert build_recipe("a fox", style="none").style == "none"
    with pytest.raises(ValueError, match="unknown style"):
        build_recipe("a fox", style="cubism")


def test_synthwave_style_brings_its_grid_and_sun() -> None:
    recipe = build_recipe("late drive", style="synthwave")
    assert {"grid", "sun"} <= set(recipe.motifs)


def test_negative_prompt_removes_motifs_and_colours() -> None:
    recipe = build_recipe("red clouds over the mountains", negative_prompt="clouds, red")
    assert "clouds" not in recipe.motifs
    assert "red" not in recipe.colours
    assert "mountains" in recipe.motifs


def test_prompts_without_known_words_still_get_a_scene() -> None:
    recipe = build_recipe("i miss you")
    assert recipe.inferred_motifs
    assert len(recipe.motifs) >= 2
    assert build_recipe("i miss you") == recipe
    assert normalize_prompt(" I  miss you ") == "i miss you"


def test_every_scene_has_something_in_its_sky() -> None:
    for prompt in ("a quiet beach", "mountains", "a city", "a forest"):
        motifs = set(build_recipe(prompt).motifs)
        assert motifs & {"sun", "moon", "stars", "clouds", "aurora", "flow"}, prompt
