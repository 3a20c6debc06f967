"""Sky layers: gradient, abstract flow, stars, aurora, sun, moon and clouds."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .noise import Array, add_light, blend, blur_field, fbm, fbm_1d, mix, resize_field, smoothstep
from .scene import Scene


def paint_sky(scene: Scene) -> None:
    """Vertical three-stop gradient down to the horizon, continued below it for whatever covers the ground."""
    top, horizon = np.array(scene.colour("sky_top")), np.array(scene.colour("sky_horizon"))
    middle = np.array(mix(scene.colour("sky_top"), scene.colour("sky_horizon"), 0.55))
    y = np.arange(scene.height, dtype=np.float32) / max(1, scene.horizon)
    y = np.clip(y, 0.0, 1.0)[:, None]
    upper = top + (middle - top) * np.clip(y / 0.6, 0, 1)
    lower = middle + (horizon - middle) * smoothstep(0.6, 1.0, y)
    column = np.where(y < 0.6, upper, lower).astype(np.float32)
    scene.canvas[:] = column[:, None, :]
    # A soft, wide glow band just above the horizon makes every sky feel lit.
    rows, ys = scene.rows(0, scene.horizon)
    band = np.exp(-(((scene.horizon - ys) / (scene.height * 0.12)) ** 2)).astype(np.float32)
    add_light(scene.canvas, np.broadcast_to(band * 0.25, (band.shape[0], scene.width)), scene.colour("glow"), rows)


def paint_flow(scene: Scene) -> None:
    """Domain-warped noise mapped through the palette: the abstract motif fills the whole frame."""
    rng, width, height = scene.rng, scene.width, scene.height
    small_w, small_h = _small_size(width, height, 256)
    warp_x = fbm(rng, small_w, small_h, octaves=3, cells=2.0)
    warp_y = fbm(rng, small_w, small_h, octaves=3, cells=2.0)
    base = fbm(rng, small_w, small_h, octaves=5, cells=2.5)
    ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    strength = 0.35 * small_w
    sx = _reflect(xs + (warp_x - 0.5) * strength, small_w)
    sy = _reflect(ys + (warp_y - 0.5) * strength, small_h)
    field = base[sy, sx]
    bands = 0.5 + 0.5 * np.sin(field * np.pi * 7.0 + warp_x * 3.0)
    stops = [scene.colour(name) for name in ("ink", "sky_top", "accent", "sky_horizon", "glow")]
    t = np.clip(field * 0.7 + bands * 0.3, 0, 1) * (len(stops) - 1)
    index = np.minimum(t.astype(np.int32), len(stops) - 2)
    frac = (t - index)[..., None]
    palette = np.array(stops, dtype=np.float32)
    colours = palette[index] * (1 - frac) + palette[index + 1] * frac
    ridge = smoothstep(0.82, 1.0, bands)[..., None]  # thin bright filaments along band crests
    colours = colours + (1 - colours) * ridge * 0.35
    image = Image.fromarray((np.clip(colours, 0, 1) * 255).astype(np.uint8))
    image = image.resize((width, height), Image.Resampling.BICUBIC)
    flow = np.asarray(image, dtype=np.float32) / 255.0
    limit = scene.horizon if _has_ground(scene) else height
    scene.canvas[:limit] = flow[:limit]
    if limit < height:
        scene.canvas[limit:] = flow[limit:] * 0.6
    scene.drawn.append("flow")


def paint_stars(scene: Scene) -> None:
    rng, width, horizon = scene.rng, scene.width, scene.horizon
    is_night = scene.recipe.time in ("night", "dusk")
    count = int(width * horizon / (900 if is_night else 2600))
    xs = rng.integers(0, width, count)
    ys = (rng.random(count) ** 1.3 * horizon * 0.95).astype(np.int64)
    brightness = (rng.random(count) ** 3).astype(np.float32) * (0.9 if is_night else 0.45)
    field = np.zeros((horizon, width), dtype=np.float32)
    np.maximum.at(field, (ys, xs), brightness)
    radius = max(0.6, 0.8 * scene.unit)
    soft = blur_field(field, radius)
    stars = np.clip(field * 0.6 + soft * 2.2, 0, 1)
    # A faint band of haze across the sky, like the Milky Way, when the prompt is about space.
    if any(word in scene.recipe.prompt for word in ("galaxy", "milky", "nebula", "cosmos", "cosmic", "space")):
        small_w, small_h = _small_size(width, horizon, 192)
        haze = fbm(rng, small_w, small_h, octaves=5, cells=3.0)
        yy, xx = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
        diagonal = (yy / small_h - 0.2 - 0.55 * xx / small_w) / 0.22
        band = np.exp(-(diagonal**2)) * smoothstep(0.3, 0.9, haze)
        band = resize_field(band.astype(np.float32), width, horizon)
        add_light(scene.canvas, band * 0.55, scene.colour("accent"), slice(0, horizon))
        add_light(scene.canvas, band * 0.35, scene.colour("glow"), slice(0, horizon))
        stars = np.clip(stars * (1 + band * 1.5), 0, 1)
    add_light(scene.canvas, stars, (1.0, 0.98, 0.92), slice(0, horizon))
    scene.drawn.append("stars")


def paint_aurora(scene: Scene) -> None:
    rng, width, horizon = scene.rng, scene.width, scene.horizon
    small_w, small_h = _small_size(width, horizon, 256)
    x = np.linspace(0, 1, small_w, dtype=np.float32)
    total = np.zeros((small_h, small_w), dtype=np.float32)
    ys = np.linspace(0, 1, small_h, dtype=np.float32)[:, None]
    for ribbon in range(2):
        centre = 0.35 + 0.12 * ribbon + (fbm_1d(rng, small_w, octaves=4, cells=2.0) - 0.5) * 0.35
        centre = centre + 0.05 * np.sin(x * np.pi * (2 + ribbon) + float(rng.uniform(0, 6)))
        streaks = 0.4 + 0.6 * fbm_1d(rng, small_w, octaves=3, cells=30.0) ** 2
        above = np.clip((centre - ys) / 0.28, 0, 1)  # light rises from the lower edge, fading upwards
        body = np.where(ys <= centre, (1 - above) ** 1.5, np.exp(-(((ys - centre) / 0.02) ** 2)))
        total += body * streaks * (0.9 - 0.3 * ribbon)
    curtain = resize_field(np.clip(total, 0, 1), width, horizon, Image.Resampling.BICUBIC)
    green = (0.25, 1.0, 0.6)
    add_light(scene.canvas, curtain * 0.75, mix(green, scene.colour("accent"), 0.25), slice(0, horizon))
    height_fade = np.linspace(0.6, 0.0, horizon, dtype=np.float32)[:, None]
    add_light(scene.canvas, curtain * height_fade * 0.5, (0.7, 0.3, 0.9), slice(0, horizon))
    scene.drawn.append("aurora")


def paint_sun(scene: Scene) -> None:
    recipe, rng = scene.recipe, scene.rng
    retro = "grid" in recipe.motifs or recipe.style == "synthwave"
    low = recipe.time in ("sunset", "dawn", "dusk") or retro
    radius = scene.height * (0.16 if retro else float(rng.uniform(0.06, 0.09)))
    cx = scene.width * (0.5 if retro else float(rng.uniform(0.25, 0.75)))
    cy = scene.horizon - (radius * 0.55 if low else scene.height * float(rng.uniform(0.22, 0.38)))
    if low and not retro and {"mountains", "city"} & set(recipe.motifs):
        cy = scene.horizon - scene.height * float(rng.uniform(0.24, 0.3))  # low, but clear of the ridges
    scene.light = (cx, cy, radius)
    rows, ys = scene.rows(0, scene.horizon)
    xs = np.arange(scene.width, dtype=np.float32)[None, :]
    distance = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
    glow_colour = mix(scene.colour("glow"), (1.0, 0.85, 0.6), 0.35)  # sunlight is warm whatever the palette
    reach = 2.2 if low else 1.2
    halo = np.exp(-np.maximum(distance - radius, 0) / (radius * reach)) * 0.5
    halo += np.exp(-np.maximum(distance - radius, 0) / (radius * 0.35)) * 0.3
    add_light(scene.canvas, halo.astype(np.float32), glow_colour, rows)
    disc = np.clip(radius - distance + 0.5, 0, 1).astype(np.float32)
    if retro:
        # The synthwave sun: yellow to magenta, with horizontal cuts widening towards the bottom.
        t = np.clip((ys - (cy - radius)) / (2 * radius), 0, 1)
        colour = (
            np.array((1.0, 0.86, 0.3), np.float32) * (1 - t[..., None])
            + np.array((1.0, 0.2, 0.55), np.float32) * t[..., None]
        )
        stripe = (ys - cy) / (radius * 0.16)
        gap = np.clip((t - 0.45) * 1.2, 0, 0.8)
        cut = ((stripe % 1.0) < gap) & (ys > cy)
        disc = np.where(cut, 0.0, disc).astype(np.float32)
        target = scene.canvas[rows]
        target += (np.broadcast_to(colour, target.shape) - target) * disc[..., None]
    else:
        core = mix(glow_colour, (1.0, 0.97, 0.86), 0.75)
        blend(scene.canvas, disc, core, rows)
    scene.drawn.append("sun")


def paint_moon(scene: Scene) -> None:
    rng = scene.rng
    radius = scene.height * float(rng.uniform(0.045, 0.07))
    cx = scene.width * float(rng.uniform(0.2, 0.8))
    cy = scene.horizon - scene.height * float(rng.uniform(0.25, 0.45))
    cy = max(cy, radius * 2.5)
    scene.light = (cx, cy, radius)
    rows, ys = scene.rows(0, scene.horizon)
    xs = np.arange(scene.width, dtype=np.float32)[None, :]
    distance = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
    halo = np.exp(-np.maximum(distance - radius, 0) / (radius * 1.6)) * 0.45
    add_light(scene.canvas, halo.astype(np.float32), scene.colour("glow"), rows)
    disc = np.clip(radius - distance + 0.5, 0, 1).astype(np.float32)
    if scene.recipe.crescent:
        shadow = np.sqrt((xs - cx - radius * 0.45) ** 2 + (ys - cy + radius * 0.2) ** 2)
        disc = disc * np.clip(shadow - radius * 0.95, 0, 1)
    size = max(8, int(radius * 2))
    craters = resize_field(fbm(rng, 32, 32, octaves=3, cells=3.0), size, size)
    shade = np.ones_like(disc)
    top, left = int(cy - radius), int(cx - radius)
    r0, c0 = max(0, top), max(0, left)
    r1, c1 = min(shade.shape[0], top + size), min(scene.width, left + size)
    if r1 > r0 and c1 > c0:
        shade[r0:r1, c0:c1] = 0.86 + 0.14 * craters[r0 - top : r1 - top, c0 - left : c1 - left]
    moon = np.array(mix(scene.colour("glow"), (0.97, 0.97, 0.94), 0.7), np.float32)
    target = scene.canvas[rows]
    target += (moon * shade[..., None] - target) * disc[..., None]
    scene.drawn.append("moon")


def paint_clouds(scene: Scene) -> None:
    rng, width, horizon = scene.rng, scene.width, scene.horizon
    small_w, small_h = _small_size(width, horizon, 192)
    density = fbm(rng, small_w, small_h, octaves=5, cells=4.0, stretch=3.5)
    cover = 0.52 if "storm" in scene.recipe.prompt or "overcast" in scene.recipe.prompt else 0.6
    vertical = np.linspace(0, 1, small_h, dtype=np.float32)[:, None]
    fade = smoothstep(0.0, 0.15, vertical) * (1 - smoothstep(0.7, 1.0, vertical))
    mask = smoothstep(cover, cover + 0.22, density) * fade
    # Light from above: where density falls off upwards the cloud is lit, elsewhere shadowed.
    shifted = np.roll(density, 3, axis=0)
    lit = np.clip((density - shifted) * 4.0 + 0.55, 0, 1)
    mask = resize_field(mask.astype(np.float32), width, horizon, Image.Resampling.BICUBIC)
    lit = resize_field(lit.astype(np.float32), width, horizon)
    bright = mix(scene.colour("glow"), (1.0, 1.0, 1.0), 0.5)
    shadow = mix(scene.colour("sky_top"), scene.colour("far"), 0.5)
    if scene.recipe.time in ("night", "dusk"):
        bright = mix(scene.colour("sky_horizon"), scene.colour("glow"), 0.3)
        shadow = mix(scene.colour("sky_top"), scene.colour("ink"), 0.3)
    colour = (
        np.array(shadow, np.float32) + (np.array(bright, np.float32) - np.array(shadow, np.float32)) * lit[..., None]
    )
    target = scene.canvas[:horizon]
    target += (colour - target) * (mask[..., None] * 0.92)
    scene.drawn.append("clouds")


def _small_size(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height))
    return max(8, round(width * scale)), max(8, round(height * scale))


def _has_ground(scene: Scene) -> bool:
    return any(motif in scene.recipe.motifs for motif in ("mountains", "hills", "dunes", "city", "water", "grid"))


def _reflect(position: Array, size: int) -> NDArray[np.int64]:
    """Mirror out-of-range coordinates back inside ``[0, size)`` (no smeared borders)."""
    period = 2 * (size - 1)
    folded = np.abs(position.astype(np.int64)) % period
    return np.where(folded >= size, period - folded, folded)
