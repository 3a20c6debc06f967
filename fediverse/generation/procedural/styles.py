"""Style post-processes applied to the finished painting (8-bit RGB Pillow image)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageChops, ImageFilter, ImageOps

from .finish import add_grain
from .noise import fbm, resize_field
from .scene import Scene


def apply_style(image: Image.Image, scene: Scene) -> Image.Image:
    style = STYLE_PASSES.get(scene.recipe.style, _plain)
    return style(image, scene)


def _plain(image: Image.Image, scene: Scene) -> Image.Image:
    return add_grain(image, scene.rng, 3.5)


def _watercolor(image: Image.Image, scene: Scene) -> Image.Image:
    width, height = image.size
    # Soften shapes the way pigment spreads: a downscale-upscale wash blended with a light blur.
    small = image.resize((max(8, width // 4), max(8, height // 4)), Image.Resampling.BOX)
    wash = small.filter(ImageFilter.GaussianBlur(1.0)).resize((width, height), Image.Resampling.BICUBIC)
    soft = Image.blend(image.filter(ImageFilter.GaussianBlur(1.2 * scene.unit)), wash, 0.4)
    # Darker pigment pools along the edges of shapes.
    edges = small.convert("L").filter(ImageFilter.FIND_EDGES).filter(ImageFilter.GaussianBlur(0.8))
    edges = edges.resize((width, height), Image.Resampling.BICUBIC)
    edges_array = np.clip(np.asarray(edges, dtype=np.float32) / 40.0, 0, 1)
    border = max(8, width // 25)  # FIND_EDGES sees the image border as an edge: ignore it
    edges_array[:border], edges_array[-border:], edges_array[:, :border], edges_array[:, -border:] = 0, 0, 0, 0
    pixels = np.asarray(soft, dtype=np.float32) / 255.0
    pixels *= 1.0 - 0.22 * edges_array[..., None]
    grey = pixels.mean(axis=2, keepdims=True)
    pixels = grey + (pixels - grey) * 1.25  # pigment is saturated; the paper lightens it below
    # Paper: a pale wash towards white and a fine cold-press texture.
    half_w, half_h = max(8, width // 2), max(8, height // 2)
    paper = resize_field(fbm(scene.rng, half_w, half_h, octaves=4, cells=40.0, persistence=0.7), width, height)
    pixels = pixels * (0.93 + 0.07 * paper[..., None]) + (1.0 - pixels) * 0.1
    painted = Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8), mode="RGB")
    return add_grain(painted, scene.rng, 2.0)


def _pixel(image: Image.Image, scene: Scene) -> Image.Image:
    width, height = image.size
    block = max(4, round(min(width, height) / 96))
    small = image.resize((max(8, width // block), max(8, height // block)), Image.Resampling.BOX)
    quantized = small.quantize(colors=20, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).convert("RGB")
    return quantized.resize((width, height), Image.Resampling.NEAREST)


def _noir(image: Image.Image, scene: Scene) -> Image.Image:
    grey = ImageOps.autocontrast(image.convert("L"), cutoff=1)
    pixels = np.asarray(grey, dtype=np.float32) / 255.0
    pixels = pixels * pixels * (3 - 2 * pixels)  # S-curve: deep blacks, bright highlights
    width, height = image.size
    ys = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
    xs = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
    pixels *= 1.0 - 0.45 * np.clip((xs * xs + ys * ys) * 0.5, 0, 1)
    tone = np.stack([pixels * 1.02, pixels, pixels * 0.95], axis=-1)  # a faint silver-gelatin warmth
    toned = Image.fromarray((np.clip(tone, 0, 1) * 255).astype(np.uint8), mode="RGB")
    return add_grain(toned, scene.rng, 9.0)


def _poster(image: Image.Image, scene: Scene) -> Image.Image:
    width, height = image.size
    smooth = image.filter(ImageFilter.GaussianBlur(2.0 * scene.unit))
    flat = smooth.quantize(colors=7, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).convert("RGB")
    flat = flat.filter(ImageFilter.SMOOTH_MORE)
    margin = max(4, round(min(width, height) * 0.045))
    cream = tuple(int(c * 255) for c in (0.96, 0.93, 0.86))
    framed = Image.new("RGB", (width, height), cream)
    inner = flat.resize((width - 2 * margin, height - 2 * margin), Image.Resampling.BILINEAR)
    framed.paste(inner, (margin, margin))
    return add_grain(framed, scene.rng, 2.5)


def _synthwave(image: Image.Image, scene: Scene) -> Image.Image:
    red, green, blue = image.split()
    shift = max(1, round(2 * scene.unit))
    red = ImageChops.offset(red, shift, 0)
    blue = ImageChops.offset(blue, -shift, 0)
    shifted = Image.merge("RGB", (red, green, blue))
    pixels = np.asarray(shifted, dtype=np.float32)
    period = max(2, round(3 * scene.unit))
    pixels[::period] *= 0.82  # scanlines
    return add_grain(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB"), scene.rng, 3.0)


def _pastel(image: Image.Image, scene: Scene) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    grey = pixels.mean(axis=2, keepdims=True)
    pixels = grey + (pixels - grey) * 0.75
    pixels = pixels * 0.62 + 0.38  # lift everything towards white
    pixels = np.clip(pixels, 0, 1)
    soft = Image.fromarray((pixels * 255).astype(np.uint8), mode="RGB").filter(
        ImageFilter.GaussianBlur(0.8 * scene.unit)
    )
    return add_grain(soft, scene.rng, 2.0)


def _ink(image: Image.Image, scene: Scene) -> Image.Image:
    grey = image.convert("L").filter(ImageFilter.GaussianBlur(1.6 * scene.unit))
    edges = grey.filter(ImageFilter.FIND_EDGES)
    lines = np.clip((np.asarray(edges, dtype=np.float32) - 6.0) / 14.0, 0, 1)
    tone = np.asarray(grey, dtype=np.float32) / 255.0
    width, height = image.size
    ys, xs = np.ogrid[0:height, 0:width]
    spacing = max(3, round(7 * scene.unit))
    hatch = ((xs + ys) % spacing == 0) & (tone < 0.33)
    cross = ((xs - ys) % spacing == 0) & (tone < 0.16)
    paper = np.array((0.96, 0.94, 0.88), np.float32)
    ink = np.array((0.12, 0.12, 0.16), np.float32)
    wash = (0.7 + 0.3 * np.clip(tone * 1.4, 0, 1))[..., None]
    darkness = np.clip(lines + hatch * 0.6 + cross * 0.6, 0, 1)[..., None]
    # A single pale wash of the palette's accent under the drawing, like a tinted sketchbook page.
    accent = np.array(scene.colour("accent"), np.float32)
    pixels = paper * wash + (accent - paper * wash) * 0.1 * (1 - tone[..., None])
    pixels = pixels + (ink - pixels) * darkness
    return add_grain(Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8), mode="RGB"), scene.rng, 3.0)


STYLE_PASSES: dict[str, Callable[[Image.Image, Scene], Image.Image]] = {
    "none": _plain,
    "watercolor": _watercolor,
    "pixel": _pixel,
    "noir": _noir,
    "poster": _poster,
    "synthwave": _synthwave,
    "pastel": _pastel,
    "ink": _ink,
}
