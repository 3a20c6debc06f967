"""Finishing passes: mood grading, bloom, vignette and film grain on the float canvas."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .noise import Array, blur_field, luminance, resize_field
from .scene import Scene


def grade(scene: Scene) -> None:
    """Apply the mood: warmth, saturation, contrast and brightness."""
    mood, canvas = scene.recipe.grade, scene.canvas
    if mood.warmth:
        canvas[..., 0] += 0.06 * mood.warmth * (1 - canvas[..., 0])
        canvas[..., 2] -= 0.06 * mood.warmth * canvas[..., 2]
    grey = luminance(canvas)[..., None]
    canvas += (canvas - grey) * (mood.saturation - 1.0)
    if mood.contrast != 1.0:
        pivot = float(grey.mean())
        canvas += (canvas - pivot) * (mood.contrast - 1.0)
    canvas *= mood.brightness
    np.clip(canvas, 0.0, 1.0, out=canvas)


def bloom(scene: Scene, strength: float) -> None:
    """Let bright areas bleed light: threshold, blur on a small copy, screen back."""
    small_w, small_h = max(8, scene.width // 8), max(8, scene.height // 8)
    bright = np.clip((luminance(scene.canvas) - 0.6) / 0.4, 0, 1)
    small = resize_field(bright.astype(np.float32), small_w, small_h)
    glow = resize_field(blur_field(small, 3.0), scene.width, scene.height)
    light = (glow * strength)[..., None] * scene.canvas
    scene.canvas += light * (1.0 - scene.canvas)


def vignette(scene: Scene, strength: float = 0.22) -> None:
    ys = np.linspace(-1, 1, scene.height, dtype=np.float32)[:, None]
    xs = np.linspace(-1, 1, scene.width, dtype=np.float32)[None, :]
    falloff = 1.0 - strength * np.clip((xs * xs + ys * ys) * 0.5, 0, 1) ** 1.5
    scene.canvas *= falloff[..., None]


def to_image(canvas: Array) -> Image.Image:
    return Image.fromarray((np.clip(canvas, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), mode="RGB")


def add_grain(image: Image.Image, rng: np.random.Generator, amount: float = 4.0) -> Image.Image:
    """Fine monochrome grain in 8-bit space: hides banding in gradients and feels like paper or film."""
    width, height = image.size
    tile_side = 256
    tile = rng.normal(0.0, amount, (tile_side, tile_side)).astype(np.float32)
    reps = (height // tile_side + 1, width // tile_side + 1)
    noise = np.tile(tile, reps)[:height, :width, None]
    pixels = np.asarray(image, dtype=np.float32) + noise
    return Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8), mode="RGB")
