"""Land layers: mountains, hills, dunes, city skyline, water with reflections, the retro grid."""

from __future__ import annotations

import numpy as np

from .noise import Array, FloatArray, add_light, blend, blur_field, fbm, fbm_1d, mix, resize_field, smoothstep
from .scene import Colour, Scene


def paint_ground(scene: Scene) -> None:
    """A ground plane below the horizon, gently rolling and textured, for scenes that leave it bare."""
    rows, ys = scene.rows(scene.horizon, scene.height)
    t = (ys - scene.horizon) / max(1, scene.height - scene.horizon)
    far = np.array(mix(scene.colour("far"), scene.colour("mid"), 0.5), np.float32)
    near = np.array(scene.colour("near"), np.float32)
    texture = fbm(scene.rng, scene.width, rows.stop - rows.start, octaves=5, cells=6.0, stretch=5.0)
    shade = (0.9 + 0.2 * texture)[..., None]
    scene.canvas[rows] = (far + (near - far) * (t[..., None] ** 0.7)) * shade
    x = np.linspace(0, 1, scene.width, dtype=np.float32)
    for band in range(2):
        base = scene.horizon + (scene.height - scene.horizon) * (0.3 + 0.35 * band)
        ridge = base - scene.height * 0.03 * (
            fbm_1d(scene.rng, scene.width, octaves=3, cells=1.5) + 0.2 * np.sin(x * 5)
        )
        colour = mix(scene.colour("mid"), scene.colour("near"), 0.5 + 0.5 * band)
        _paint_ridge(scene, ridge, scene.height, colour, shade=0.06, soft_top=True)


def paint_mountains(scene: Scene) -> None:
    rng, width = scene.rng, scene.width
    layers = 3
    snowy = "snow" in scene.recipe.motifs or scene.recipe.time == "winter"
    for layer in range(layers):
        depth = layer / (layers - 1)  # 0 = farthest
        peak = scene.height * (0.30 - 0.07 * layer) * float(rng.uniform(0.75, 1.1))
        base = scene.horizon + scene.height * 0.012 * layer
        profile: FloatArray = fbm_1d(rng, width, octaves=6, cells=1.0 + 0.8 * layer, persistence=0.48)
        ridged = 1.0 - np.abs(fbm_1d(rng, width, octaves=3, cells=2.0 + layer) * 2 - 1)  # sharp summits
        profile = profile * 0.6 + ridged * 0.4
        profile = (profile - profile.min()) / max(1e-6, float(np.ptp(profile)))
        ridge = base - peak * (0.2 + 0.8 * profile)
        colour = mix(mix(scene.colour("sky_horizon"), scene.colour("far"), 0.45), scene.colour("mid"), depth)
        colour = mix(colour, scene.colour("near"), depth * 0.55)
        _paint_ridge(scene, ridge, base, colour, shade=0.22 + 0.08 * depth, snow=snowy and layer < 2, texture=True)
    scene.drawn.append("mountains")


def paint_hills(scene: Scene) -> None:
    rng, width = scene.rng, scene.width
    has_water = "water" in scene.recipe.motifs
    layers = 2 if has_water else 3
    x = np.linspace(0, 1, width, dtype=np.float32)
    for layer in range(layers):
        depth = layer / max(1, layers - 1)
        amplitude = scene.height * (0.05 + 0.03 * layer)
        wave = fbm_1d(rng, width, octaves=3, cells=1.2, persistence=0.35)
        wave += 0.15 * np.sin(x * np.pi * float(rng.uniform(1.0, 2.5)) + float(rng.uniform(0, 6)))
        if has_water:
            base = scene.horizon + 1.0
        else:
            base = scene.horizon + (scene.height - scene.horizon) * (0.05 + 0.28 * layer)
        ridge = base - amplitude * wave
        colour = mix(mix(scene.colour("far"), scene.colour("sky_horizon"), 0.25), scene.colour("near"), depth)
        if scene.recipe.time == "day":
            colour = mix(colour, _greenish(scene), 0.35)
        _paint_ridge(scene, ridge, scene.height if not has_water else base, colour, shade=0.08, soft_top=True)
        if not has_water:
            scene.ground = np.minimum(scene.ground, ridge) if layer == 0 else ridge
    scene.drawn.append("hills")


def paint_dunes(scene: Scene) -> None:
    rng, width = scene.rng, scene.width
    x = np.linspace(0, 1, width, dtype=np.float32)
    sand_light = mix(scene.colour("glow"), (0.95, 0.72, 0.45), 0.55)
    sand_dark = mix(scene.colour("mid"), (0.6, 0.35, 0.22), 0.4)
    for layer in range(3):
        depth = layer / 2
        frequency = float(rng.uniform(1.0, 1.8)) * (1 + layer * 0.3)
        phase = (x * frequency + float(rng.uniform(0, 1)) + 0.15 * fbm_1d(rng, width, octaves=2, cells=1.0)) % 1.0
        crest = np.where(phase < 0.7, (phase / 0.7) ** 1.6, ((1 - phase) / 0.3) ** 0.8)  # long slope, steep face
        crest = crest * (0.75 + 0.25 * fbm_1d(rng, width, octaves=3, cells=2.0))
        base = scene.horizon + (scene.height - scene.horizon) * (0.08 + 0.32 * layer)
        ridge = base - scene.height * (0.05 + 0.03 * layer) * crest
        colour = mix(mix(sand_light, sand_dark, 0.3 + 0.3 * depth), scene.colour("sky_horizon"), 0.25 * (1 - depth))
        _paint_ridge(scene, ridge.astype(np.float32), scene.height, colour, shade=0.35, soft_top=True)
        scene.ground = ridge.astype(np.float32)
    scene.drawn.append("dunes")


def paint_city(scene: Scene) -> None:
    rng, width, unit = scene.rng, scene.width, scene.unit
    night = scene.recipe.time in ("night", "dusk")
    lit_colour = mix(scene.colour("accent"), (1.0, 0.85, 0.5), 0.5)
    for layer in range(2):
        tops = np.full(width, float(scene.horizon), dtype=np.float32)
        x = 0
        while x < width:
            building_width = int(width * float(rng.uniform(0.025, 0.07)))
            tall = float(rng.random()) ** 2
            height = scene.height * ((0.08 + 0.28 * tall) * (1.0 if layer == 0 else 0.7))
            tops[x : x + building_width] = scene.horizon - height
            if tall > 0.6 and building_width > 8:  # an antenna on the tallest towers
                centre = x + building_width // 2
                tops[centre : centre + max(1, int(2 * unit))] = scene.horizon - height - scene.height * 0.04
            x += building_width + int(rng.integers(0, max(2, int(6 * unit))))
        base_colour = mix(scene.colour("far"), scene.colour("sky_horizon"), 0.35) if layer == 0 else scene.colour("ink")
        if layer == 1:
            base_colour = mix(base_colour, scene.colour("near"), 0.5)
        rows, ys = scene.rows(int(tops.min()) - 1, scene.horizon + 2)
        mask = np.clip(ys - tops[None, :] + 0.5, 0, 1)
        blend(scene.canvas, mask, base_colour, rows)
        if layer == 1 or night:
            cell_w, cell_h = max(3, int(9 * unit)), max(4, int(12 * unit))
            columns = np.arange(width) // cell_w
            cell_rows = (ys[:, 0].astype(np.int64) // cell_h)[:, None]
            inside = ((np.arange(width) % cell_w) < cell_w * 0.55)[None, :] & (
                (ys.astype(np.int64) % cell_h) < cell_h * 0.5
            )
            chance = 0.35 if night else 0.12
            hashed = (columns[None, :] * 73856093 ^ cell_rows * 19349663 ^ (layer * 83492791)) % 1000
            lit = inside & (hashed < chance * 1000) & (mask > 0.99) & (ys > tops[None, :] + cell_h)
            strength = (0.85 if night else 0.35) * (0.6 if layer == 0 else 1.0)
            blend(scene.canvas, lit.astype(np.float32) * strength, lit_colour, rows)
    scene.drawn.append("city")


def paint_water(scene: Scene) -> None:
    """Mirror what is above the horizon, ripple it, tint it, and lay a glitter path under the light."""
    rng, width, height, horizon = scene.rng, scene.width, scene.height, scene.horizon
    rows, ys = scene.rows(horizon, height)
    depth = (ys - horizon) / max(1, height - horizon)  # 0 at the horizon, 1 at the bottom
    source_rows = np.clip(horizon - 1 - (ys - horizon) * 1.0, 0, horizon - 1).astype(np.int64)
    ripple_noise = fbm(rng, width, height - horizon, octaves=4, cells=14.0, stretch=10.0)
    xs = np.arange(width, dtype=np.float32)[None, :]
    wobble = np.sin(ys * 0.8 / max(0.4, scene.unit) / (0.3 + depth * 2)) * (0.5 + depth * 5) * scene.unit
    offset = wobble + (ripple_noise - 0.5) * (3 + depth * 18) * scene.unit
    source_cols = np.clip(xs + offset, 0, width - 1).astype(np.int64)
    reflection = scene.canvas[source_rows, source_cols]
    water = np.array(scene.colour("water"), np.float32)
    tint = (0.3 + 0.45 * depth)[..., None]
    reflection = reflection * 0.82 + (water - reflection * 0.82) * tint
    # Thin darker wave lines that get longer and wider towards the viewer.
    lines = smoothstep(0.55, 0.9, ripple_noise) * (0.25 + 0.35 * depth)
    reflection *= (1 - lines * 0.35)[..., None]
    scene.canvas[rows] = reflection
    if scene.light is not None:
        cx, _, radius = scene.light
        spread = radius * (0.9 + depth * 2.5)
        glitter = fbm(rng, width, height - horizon, octaves=3, cells=70.0, stretch=9.0)
        path = np.exp(-(((xs - cx) / spread) ** 2)) * smoothstep(0.66, 0.95, glitter) * (1.2 - depth * 0.5)
        add_light(scene.canvas, (path * 0.8).astype(np.float32), mix(scene.colour("glow"), (1, 1, 1), 0.4), rows)
    shore = np.exp(-(((ys - horizon) / (2.5 * scene.unit + 1)) ** 2)) * 0.35
    add_light(
        scene.canvas, np.broadcast_to(shore, (shore.shape[0], width)).astype(np.float32), scene.colour("glow"), rows
    )
    scene.ground = np.full(width, float(height), dtype=np.float32)
    scene.drawn.append("water")


def paint_grid(scene: Scene) -> None:
    width, height, horizon = scene.width, scene.height, scene.horizon
    rows, ys = scene.rows(horizon + 1, height)
    below = ys - horizon  # pixels below the horizon, > 0
    xs = np.arange(width, dtype=np.float32)[None, :]
    if "water" not in scene.recipe.motifs:
        floor_top, floor_bottom = np.array(scene.colour("ink"), np.float32), np.array((0.05, 0.0, 0.08), np.float32)
        t = (below / max(1, height - horizon))[..., None]
        scene.canvas[rows] = floor_top + (floor_bottom - floor_top) * t
    spacing = width / 14.0
    u = (xs - width / 2) / below * (height * 0.25) / spacing
    distance_u = np.abs(u - np.round(u)) * spacing * below / (height * 0.25)
    v = (height * 3.0) / below
    distance_v = np.abs(v - np.round(v)) * below**2 / (height * 3.0)
    distance = np.minimum(distance_u, distance_v)
    line = np.clip(1.2 * scene.unit + 0.5 - distance, 0, 1) + np.exp(-distance / (5 * scene.unit)) * 0.45
    fade = smoothstep(0.0, height * 0.12, below)
    neon = scene.colour("accent") if scene.recipe.colours else (1.0, 0.25, 0.8)
    add_light(scene.canvas, np.clip(line * fade, 0, 1).astype(np.float32), neon, rows)
    scene.drawn.append("grid")


def _paint_ridge(
    scene: Scene,
    ridge: FloatArray,
    bottom: float,
    colour: Colour,
    *,
    shade: float,
    snow: bool = False,
    soft_top: bool = False,
    texture: bool = False,
) -> None:
    """Fill from ``ridge`` (row per column) down to ``bottom`` with faceted light, haze and an optional snow cap."""
    rows, ys = scene.rows(int(ridge.min()) - 1, int(bottom) + 1)
    if rows.stop <= rows.start:
        return
    mask = np.clip(ys - ridge[None, :] + 0.5, 0, 1)
    kernel = max(3, scene.width // 40)
    smooth = np.convolve(np.pad(ridge, kernel, mode="edge"), np.ones(kernel) / kernel, mode="same")[kernel:-kernel]
    slope = np.tanh(np.gradient(smooth) * 3.0).astype(np.float32)  # faces turned to the light are lighter
    below = ys - ridge[None, :]
    below_top = below / (scene.height * 0.25)
    # Follow each facet diagonally down the flank instead of straight down, like light on folded rock.
    columns = (
        np.arange(scene.width, dtype=np.float32)[None, :] + np.clip(below, 0, None) * np.sign(slope)[None, :] * 0.7
    )
    lit = slope[np.clip(columns, 0, scene.width - 1).astype(np.int32)]
    lit = _soften(lit, scene.unit)  # facet edges become soft folds instead of hard vertical seams
    fade = np.clip(1 - below_top * (2 if soft_top else 1), 0, 1)
    base = np.array(colour, np.float32)
    factor = 1 + shade * lit * (0.35 + 0.65 * fade)
    if texture:
        grain = fbm(scene.rng, scene.width, rows.stop - rows.start, octaves=5, cells=6.0, stretch=1.6)
        factor = factor * (0.95 + 0.1 * grain)
    colours = base * factor[..., None]
    haze = np.clip(below_top * 0.6, 0, 0.35)[..., None]  # mist settles in the valleys
    colours = colours + (np.array(scene.colour("sky_horizon"), np.float32) * 0.9 - colours) * haze * 0.5
    if snow:
        altitude = (scene.horizon - ridge[None, :]) / (scene.height * 0.3)
        cap = smoothstep(0.05, 0.0, below_top - 0.04 * np.sin(ys * 0.3)) * smoothstep(0.5, 0.75, altitude)
        snow_colour = np.array((0.94, 0.96, 1.0), np.float32) * (0.85 + 0.15 * lit)[..., None]
        colours = colours + (snow_colour - colours) * cap[..., None]
    target = scene.canvas[rows]
    target += (colours - target) * mask[..., None]


def _soften(field: Array, unit: float) -> Array:
    height, width = field.shape
    small_w, small_h = max(8, width // 4), max(2, height // 4)
    small = resize_field(((field + 1.0) * 0.5).astype(np.float32), small_w, small_h)
    blurred = blur_field(small, max(0.8, 2.0 * unit))
    return resize_field(blurred, width, height) * 2.0 - 1.0


def _greenish(scene: Scene) -> Colour:
    return mix(scene.colour("near"), (0.35, 0.6, 0.3), 0.6)
