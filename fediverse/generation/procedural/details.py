"""Foreground and weather layers drawn as shapes: forest, flowers, house, lighthouse, boat, birds,
rain, snow, fireflies and fog. Shapes go onto 8-bit masks with ``ImageDraw`` (fast, anti-aliased enough
at these sizes) and are blended into the float canvas.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .lexicon import COLOURS
from .noise import Array, add_light, blend, fbm, mix, resize_field
from .scene import Colour, Scene


def _mask(scene: Scene) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("L", (scene.width, scene.height), 0)
    return image, ImageDraw.Draw(image)


def _as_array(image: Image.Image) -> Array:
    return np.asarray(image, dtype=np.float32) / 255.0


def _ground_at(scene: Scene, x: float) -> float:
    column = int(min(max(x, 0), scene.width - 1))
    return float(scene.ground[column])


def paint_forest(scene: Scene) -> None:
    rng, width, height, unit = scene.rng, scene.width, scene.height, scene.unit
    has_water = "water" in scene.recipe.motifs
    rows_of_trees = 2
    for row in range(rows_of_trees):
        image, draw = _mask(scene)
        depth = row / (rows_of_trees - 1)
        tree_height = height * (0.12 + 0.16 * depth) * (0.8 if has_water else 1.0)
        count = int((26 - 12 * depth) * max(1.0, width / height))
        xs = np.sort(rng.uniform(-0.05, 1.05, count)) * width
        for x in xs:
            if has_water or row == 1:  # frame the view: trees gather at the sides
                side = min(x, width - x) / width
                if side > 0.16 + 0.12 * (1 - depth) and rng.random() < 0.85:
                    continue
            size = tree_height * float(rng.uniform(0.6, 1.15))
            base = _ground_at(scene, x) + (height * 0.02 if row == 1 else 0) if not has_water else scene.horizon + 1
            base = min(base, height + size * 0.1)
            if row == 1 and not has_water:
                base = height - float(rng.uniform(0, 0.04)) * height
            _draw_pine(draw, x, base, size)
        colour = mix(mix(scene.colour("mid"), scene.colour("sky_horizon"), 0.2), scene.colour("ink"), depth)
        if scene.recipe.time == "day":
            colour = mix(colour, (0.1, 0.25, 0.15), 0.3)
        if row == 0:  # the far row sits in the haze: soften its edges
            image = image.filter(ImageFilter.GaussianBlur(0.6 * unit))
        mask = _as_array(image)
        blend(scene.canvas, mask, colour)
    scene.drawn.append("forest")


def _draw_pine(draw: ImageDraw.ImageDraw, x: float, base: float, size: float) -> None:
    half = size * 0.22
    draw.rectangle((x - size * 0.02, base - size * 0.2, x + size * 0.02, base), fill=255)
    tiers = 4
    for tier in range(tiers):
        top = base - size * (0.35 + 0.65 * (tier + 1) / tiers)
        bottom = base - size * (0.15 + 0.6 * tier / tiers)
        spread = half * (1.0 - 0.2 * tier)
        draw.polygon([(x, top), (x - spread, bottom), (x + spread, bottom)], fill=255)


def paint_flowers(scene: Scene) -> None:
    rng, width, height, unit = scene.rng, scene.width, scene.height, scene.unit
    meadow_top = height * 0.8 if "water" in scene.recipe.motifs else max(scene.horizon, height * 0.72)
    # A soft foreground meadow the flowers sit in.
    rows, ys = scene.rows(int(meadow_top) - 2, height)
    edge = meadow_top + (fbm(rng, width, 16, octaves=3, cells=4.0)[8] - 0.5) * height * 0.04
    mask = np.clip(ys - edge[None, :] + 0.5, 0, 1)
    grass = mix(scene.colour("near"), (0.2, 0.45, 0.2), 0.45 if scene.recipe.time == "day" else 0.15)
    blend(scene.canvas, mask, grass, rows)
    named = [COLOURS[name] for name in scene.recipe.colours[:2]]
    hue_shift: list[Colour] = [(r / 255, g / 255, b / 255) for r, g, b in named] or [scene.colour("accent")]
    hue_shift += [mix(hue_shift[0], (1, 1, 1), 0.45), scene.colour("accent")]
    count = int(260 * width * (height - meadow_top) / (1024 * 300))
    petals = [_mask(scene) for _ in hue_shift]
    centres, centre_draw = _mask(scene)
    for _ in range(max(20, count)):
        t = float(rng.random()) ** 0.7
        y = meadow_top + (height - meadow_top) * t + height * 0.01
        x = float(rng.uniform(0, width))
        radius = (2.0 + 9.0 * t) * unit * float(rng.uniform(0.7, 1.3))
        draw = petals[int(rng.integers(0, len(petals)))][1]
        for angle in np.linspace(0, 2 * np.pi, 5, endpoint=False) + float(rng.uniform(0, 1)):
            px, py = x + np.cos(angle) * radius * 0.8, y + np.sin(angle) * radius * 0.8
            draw.ellipse((px - radius * 0.6, py - radius * 0.6, px + radius * 0.6, py + radius * 0.6), fill=255)
        centre_draw.ellipse((x - radius * 0.35, y - radius * 0.35, x + radius * 0.35, y + radius * 0.35), fill=255)
    for (image, _), colour in zip(petals, hue_shift, strict=True):
        blend(scene.canvas, _as_array(image), colour)
    blend(scene.canvas, _as_array(centres), (0.98, 0.85, 0.35))
    scene.ground = np.full(width, float(height), dtype=np.float32)
    scene.drawn.append("flowers")


def paint_house(scene: Scene) -> None:
    rng, width, height, unit = scene.rng, scene.width, scene.height, scene.unit
    x = width * float(rng.choice([rng.uniform(0.15, 0.35), rng.uniform(0.65, 0.85)]))
    base = _ground_at(scene, x) + 2 if "water" not in scene.recipe.motifs else scene.horizon + 2
    if base >= height - 4:
        base = height * 0.9
    size = height * 0.07 * (1.4 if base > height * 0.8 else 1.0)
    body, draw = _mask(scene)
    draw.rectangle((x - size * 0.6, base - size * 0.7, x + size * 0.6, base), fill=255)
    draw.polygon(
        [(x - size * 0.8, base - size * 0.65), (x, base - size * 1.3), (x + size * 0.8, base - size * 0.65)], fill=255
    )
    draw.rectangle((x + size * 0.3, base - size * 1.25, x + size * 0.45, base - size * 0.9), fill=255)  # chimney
    blend(scene.canvas, _as_array(body), scene.colour("ink"))
    window, window_draw = _mask(scene)
    window_draw.rectangle((x - size * 0.35, base - size * 0.5, x - size * 0.1, base - size * 0.25), fill=255)
    window_draw.rectangle((x + size * 0.1, base - size * 0.5, x + size * 0.35, base - size * 0.25), fill=255)
    glow = _as_array(window.filter(ImageFilter.GaussianBlur(6 * unit)))
    warm = (1.0, 0.78, 0.4)
    night = scene.recipe.time in ("night", "dusk", "sunset")
    add_light(scene.canvas, glow * (1.5 if night else 0.5), warm)
    blend(scene.canvas, _as_array(window) * (0.95 if night else 0.6), warm)
    scene.drawn.append("house")


def paint_lighthouse(scene: Scene) -> None:
    rng, width, height = scene.rng, scene.width, scene.height
    x = width * float(rng.choice([0.18, 0.82]))
    base = scene.horizon + height * 0.015 if "water" in scene.recipe.motifs else _ground_at(scene, x)
    size = height * 0.22
    tower, draw = _mask(scene)
    draw.polygon(
        [
            (x - size * 0.12, base),
            (x - size * 0.07, base - size),
            (x + size * 0.07, base - size),
            (x + size * 0.12, base),
        ],
        fill=255,
    )
    draw.rectangle((x - size * 0.09, base - size * 1.08, x + size * 0.09, base - size), fill=255)
    draw.polygon(
        [(x - size * 0.1, base - size * 1.08), (x, base - size * 1.2), (x + size * 0.1, base - size * 1.08)], fill=255
    )
    rock = [
        (x + size * 0.4 * np.cos(a), base + size * 0.09 * np.sin(a) - size * 0.02)
        for a in np.linspace(np.pi, 2 * np.pi, 9)
    ]
    draw.polygon([(x - size * 0.42, base + size * 0.05), *rock, (x + size * 0.42, base + size * 0.05)], fill=255)
    blend(scene.canvas, _as_array(tower), scene.colour("ink"))
    beam, beam_draw = _mask(scene)
    lamp_y = base - size * 1.04
    direction = -1 if x > width / 2 else 1
    far_x = x + direction * width * 0.9
    beam_draw.polygon(
        [(x, lamp_y - 2), (far_x, lamp_y - size * 0.3), (far_x, lamp_y + size * 0.22), (x, lamp_y + 2)], fill=255
    )
    beam_mask = _as_array(beam.filter(ImageFilter.GaussianBlur(10 * scene.unit)))
    along = np.clip(1 - np.abs(np.arange(width, dtype=np.float32) - x) / (width * 0.9), 0, 1)[None, :]
    add_light(scene.canvas, beam_mask * along * 0.45, (1.0, 0.88, 0.6))  # fades with distance
    lamp, lamp_draw = _mask(scene)
    radius = size * 0.05
    lamp_draw.ellipse((x - radius, lamp_y - radius, x + radius, lamp_y + radius), fill=255)
    add_light(scene.canvas, _as_array(lamp.filter(ImageFilter.GaussianBlur(radius))) * 1.5, (1.0, 0.95, 0.75))
    scene.drawn.append("lighthouse")


def paint_boat(scene: Scene) -> None:
    rng, width, height = scene.rng, scene.width, scene.height
    x = width * float(rng.uniform(0.3, 0.7))
    base = scene.horizon + (height - scene.horizon) * float(rng.uniform(0.25, 0.45))
    size = height * 0.09 * (1 + (base - scene.horizon) / height)
    boat, draw = _mask(scene)
    draw.polygon(
        [
            (x - size * 0.6, base - size * 0.12),
            (x + size * 0.6, base - size * 0.12),
            (x + size * 0.45, base),
            (x - size * 0.45, base),
        ],
        fill=255,
    )
    draw.polygon(
        [
            (x + size * 0.02, base - size * 0.16),
            (x + size * 0.02, base - size * 1.1),
            (x + size * 0.5, base - size * 0.2),
        ],
        fill=255,
    )
    draw.polygon(
        [
            (x - size * 0.03, base - size * 0.16),
            (x - size * 0.03, base - size * 0.9),
            (x - size * 0.4, base - size * 0.2),
        ],
        fill=255,
    )
    mask = _as_array(boat)
    blend(scene.canvas, mask, scene.colour("ink"))
    reflection = np.zeros_like(mask)
    waterline = int(base)
    span = min(height - waterline, int(size * 1.2), waterline)
    reflection[waterline : waterline + span] = mask[waterline - span : waterline][::-1]
    blend(scene.canvas, reflection * 0.35, scene.colour("ink"))
    scene.drawn.append("boat")


def paint_birds(scene: Scene) -> None:
    rng, width, unit = scene.rng, scene.width, scene.unit
    image, draw = _mask(scene)
    cx = width * float(rng.uniform(0.25, 0.75))
    cy = scene.horizon * float(rng.uniform(0.25, 0.5))
    for _ in range(int(rng.integers(5, 10))):
        x = cx + float(rng.normal(0, width * 0.09))
        y = cy + float(rng.normal(0, scene.horizon * 0.06))
        span = float(rng.uniform(8, 18)) * unit
        lift = span * float(rng.uniform(0.2, 0.5))
        draw.line(
            [(x - span, y - lift), (x - span * 0.4, y - lift * 0.3), (x, y)], fill=255, width=max(1, int(2 * unit))
        )
        draw.line(
            [(x, y), (x + span * 0.4, y - lift * 0.3), (x + span, y - lift)], fill=255, width=max(1, int(2 * unit))
        )
    blend(scene.canvas, _as_array(image) * 0.9, scene.colour("ink"))
    scene.drawn.append("birds")


def paint_rain(scene: Scene) -> None:
    rng, width, height, unit = scene.rng, scene.width, scene.height, scene.unit
    scene.canvas *= 0.88  # a rainy scene is a little darker…
    grey = scene.canvas.mean(axis=2, keepdims=True)
    scene.canvas += (grey - scene.canvas) * 0.25  # …and greyer
    image, draw = _mask(scene)
    slant = float(rng.uniform(-0.25, 0.1))
    for _ in range(int(700 * width * height / 1024**2)):
        x, y = float(rng.uniform(-0.1, 1.1)) * width, float(rng.uniform(0, 1)) * height
        length = float(rng.uniform(12, 40)) * unit
        draw.line([(x, y), (x + slant * length, y + length)], fill=int(rng.integers(50, 150)), width=max(1, int(unit)))
    add_light(scene.canvas, _as_array(image), (0.82, 0.86, 0.92))
    scene.drawn.append("rain")


def paint_snow(scene: Scene) -> None:
    rng, width, height, unit = scene.rng, scene.width, scene.height, scene.unit
    small = 2
    image = Image.new("L", (width // small, height // small), 0)
    draw = ImageDraw.Draw(image)
    for _ in range(int(650 * width * height / 1024**2)):
        x, y = float(rng.uniform(0, width // small)), float(rng.uniform(0, height // small))
        radius = (float(rng.random()) ** 3 * 3.0 + 0.5) * unit / small * 1.6
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=int(rng.integers(140, 255)))
    flakes = image.filter(ImageFilter.GaussianBlur(0.7 * unit)).resize((width, height), Image.Resampling.BILINEAR)
    add_light(scene.canvas, _as_array(flakes), (1.0, 1.0, 1.0))
    scene.drawn.append("snow")


def paint_fireflies(scene: Scene) -> None:
    rng, width, height, unit = scene.rng, scene.width, scene.height, scene.unit
    small = 4
    image = Image.new("L", (max(1, width // small), max(1, height // small)), 0)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(25, 45))):
        x = float(rng.uniform(0, width)) / small
        y = float(rng.uniform(0.45, 1.0)) * height / small
        radius = float(rng.uniform(0.4, 1.1)) * unit
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    glow = image.filter(ImageFilter.GaussianBlur(2.5 * unit)).resize((width, height), Image.Resampling.BICUBIC)
    cores = image.resize((width, height), Image.Resampling.BILINEAR)
    colour = mix(scene.colour("accent"), (1.0, 0.9, 0.5), 0.5)
    add_light(scene.canvas, np.clip(_as_array(glow) * 2.0, 0, 1), colour)
    add_light(scene.canvas, _as_array(cores), (1.0, 1.0, 0.9))
    scene.drawn.append("fireflies")


def paint_fog(scene: Scene, strength: float) -> None:
    """Haze thickest at the horizon, drifting in soft bands."""
    rng, width, height = scene.rng, scene.width, scene.height
    noise = fbm(rng, max(8, width // 8), max(8, height // 8), octaves=4, cells=2.0, stretch=4.0)
    noise = resize_field(noise, width, height)
    ys = np.arange(height, dtype=np.float32)[:, None]
    band = np.exp(-(((ys - scene.horizon) / (height * 0.14)) ** 2))
    amount = np.clip(band * (0.45 + 0.55 * noise) * strength * 0.8, 0, 0.6).astype(np.float32)
    blend(scene.canvas, amount, mix(scene.colour("sky_horizon"), scene.colour("glow"), 0.3))
