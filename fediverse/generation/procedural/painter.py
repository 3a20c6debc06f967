"""Run the layers of a recipe in order, reporting progress and honouring cancellation between layers."""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from ..base import CancelToken, Progress, ProgressCallback
from . import details, land, sky
from .finish import bloom, grade, to_image, vignette
from .lexicon import MOTIF_PHRASES, STYLE_PHRASES
from .recipe import Recipe
from .scene import Scene, new_scene
from .styles import apply_style

Layer = Callable[[Scene], None]

MOTIF_LAYERS: dict[str, Layer] = {
    "flow": sky.paint_flow,
    "stars": sky.paint_stars,
    "aurora": sky.paint_aurora,
    "sun": sky.paint_sun,
    "moon": sky.paint_moon,
    "clouds": sky.paint_clouds,
    "mountains": land.paint_mountains,
    "hills": land.paint_hills,
    "dunes": land.paint_dunes,
    "city": land.paint_city,
    "water": land.paint_water,
    "grid": land.paint_grid,
    "forest": details.paint_forest,
    "flowers": details.paint_flowers,
    "house": details.paint_house,
    "lighthouse": details.paint_lighthouse,
    "boat": details.paint_boat,
    "birds": details.paint_birds,
    "rain": details.paint_rain,
    "snow": details.paint_snow,
    "fireflies": details.paint_fireflies,
}

_NEEDS_GROUND = ("mountains", "city", "forest", "house", "lighthouse", "flowers")
_COVERS_GROUND = ("water", "grid", "hills", "dunes")


def plan_layers(recipe: Recipe) -> list[tuple[str, Layer]]:
    """The named steps that will paint ``recipe``, in order (also the progress total)."""
    steps: list[tuple[str, Layer]] = [("sky", sky.paint_sky)]
    motifs = recipe.motifs
    ground_ready = False
    for motif in motifs:
        if motif in _NEEDS_GROUND and not ground_ready and not set(motifs) & set(_COVERS_GROUND):
            steps.append(("ground", land.paint_ground))
            ground_ready = True
        steps.append((motif, MOTIF_LAYERS[motif]))
    if recipe.grade.fog > 0:
        strength = recipe.grade.fog
        steps.append(("fog", lambda scene: details.paint_fog(scene, strength)))
    steps.append(("grade", _finish))
    return steps


def _finish(scene: Scene) -> None:
    grade(scene)
    glow = scene.recipe.grade.glow + (0.25 if scene.recipe.time in ("night", "dusk") else 0.1)
    bloom(scene, glow)
    vignette(scene)


def paint(
    recipe: Recipe,
    width: int,
    height: int,
    seed: int,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[Image.Image, Scene]:
    """Paint one image. Runs in a worker thread; ``progress`` is called from that thread."""
    scene = new_scene(recipe, width, height, seed)
    steps = plan_layers(recipe)
    total = len(steps) + 1  # + the style pass
    for index, (_, layer) in enumerate(steps):
        if cancel is not None:
            cancel.raise_if_cancelled()
        layer(scene)
        if progress is not None:
            progress(Progress(index + 1, total, "painting"))
    if cancel is not None:
        cancel.raise_if_cancelled()
    image = apply_style(to_image(scene.canvas), scene)
    if progress is not None:
        progress(Progress(total, total, "postprocess"))
    return image, scene


def describe(recipe: Recipe, drawn: list[str]) -> str:
    """Alt text written from what was actually painted."""
    style = STYLE_PHRASES.get(recipe.style, "")
    opening = "Procedurally generated illustration" + (f" in {style}" if style else "")
    phrases = [MOTIF_PHRASES[motif] for motif in drawn if motif in MOTIF_PHRASES]
    time = {"night": "at night", "dusk": "at dusk", "sunset": "at sunset", "dawn": "at dawn"}.get(recipe.time, "")
    if "flow" in drawn and len(drawn) == 1:
        time = ""
    mood = f", with a {recipe.moods[0]} mood" if recipe.moods else ""
    colours = f" in shades of {_join(list(recipe.colours[:3]))}" if recipe.colours else ""
    scene = _join(phrases) if phrases else "an abstract colour field"
    sentence = f"{opening}: {scene}{(' ' + time) if time else ''}{colours}{mood}."
    return sentence[0].upper() + sentence[1:]


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
