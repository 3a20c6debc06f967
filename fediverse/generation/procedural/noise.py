"""Cheap deterministic noise and blending helpers on float32 numpy arrays.

Noise is computed on a small working grid (<= 192 px) and upscaled once with Pillow: full-resolution
octaves would cost milliseconds each, and the painter needs a dozen fields per image.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

Array = NDArray[np.float32]
#: Any float dtype: numpy's stubs widen ``float32 op float`` to ``floating[Any]``, though at run time it stays float32.
_Float = TypeVar("_Float", bound=np.floating[Any])
FloatArray = NDArray[np.floating[Any]]
WORK_SIDE = 192


def resize_field(
    field: Array, width: int, height: int, resample: Image.Resampling = Image.Resampling.BILINEAR
) -> Array:
    """Resize a 2-D float field with Pillow (mode F)."""
    if field.shape == (height, width):
        return field
    image = Image.fromarray(np.ascontiguousarray(field, dtype=np.float32), mode="F")
    return np.asarray(image.resize((width, height), resample), dtype=np.float32)


def blur_field(field: Array, radius: float) -> Array:
    """Gaussian blur of a [0, 1] field (Pillow blurs 8-bit images only; 8 bits are plenty for light)."""
    image = Image.fromarray((np.clip(field, 0.0, 1.0) * 255.0).astype(np.uint8), mode="L")
    return np.asarray(image.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255.0


def fbm(
    rng: np.random.Generator,
    width: int,
    height: int,
    *,
    octaves: int = 5,
    cells: float = 3.0,
    stretch: float = 1.0,
    persistence: float = 0.5,
) -> Array:
    """Fractal value noise in [0, 1] at ``width`` x ``height``; ``stretch`` > 1 widens features horizontally."""
    scale = min(1.0, WORK_SIDE / max(width, height))
    gw, gh = max(8, round(width * scale)), max(8, round(height * scale))
    aspect = width / height
    total = np.zeros((gh, gw), dtype=np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        ny = max(2, round(cells * 2**octave) + 1)
        nx = max(2, round(cells * 2**octave * aspect / stretch) + 1)
        if octave and (ny > gh or nx > gw):
            break
        ny, nx = min(ny, gh), min(nx, gw)
        grid = rng.random((ny, nx), dtype=np.float32)
        total += amplitude * resize_field(grid, gw, gh, Image.Resampling.BICUBIC)
        norm += amplitude
        amplitude *= persistence
    total /= norm
    low, high = np.percentile(total, (1, 99))
    total = np.clip((total - low) / max(1e-6, float(high - low)), 0.0, 1.0)
    return resize_field(total, width, height, Image.Resampling.BICUBIC)


def fbm_1d(
    rng: np.random.Generator, length: int, *, octaves: int = 6, cells: float = 3.0, persistence: float = 0.5
) -> Array:
    """Fractal 1-D noise in about [0, 1] (used for ridge lines and skylines)."""
    x = np.linspace(0.0, 1.0, length, dtype=np.float32)
    total = np.zeros(length, dtype=np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        count = max(2, round(cells * 2**octave) + 1)
        points = rng.random(count, dtype=np.float32)
        position = x * (count - 1)
        index = np.minimum(position.astype(np.int64), count - 2)
        eased = (1.0 - np.cos((position - index) * np.pi)) * 0.5  # cosine easing: no kinks at the knots
        total += amplitude * (points[index] * (1.0 - eased) + points[index + 1] * eased)
        norm += amplitude
        amplitude *= persistence
    return (total / norm).astype(np.float32)


def smoothstep(edge0: float, edge1: float, x: NDArray[_Float]) -> NDArray[_Float]:
    """Hermite step of ``x`` between the edges, in the dtype of ``x``."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    stepped: NDArray[_Float] = t * t * (3.0 - 2.0 * t)
    return stepped


def _crop(mask: Array) -> tuple[slice, slice] | None:
    """The bounding box of the non-zero part of ``mask`` (None when empty): sparse layers blend only there."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(columns[0]), int(columns[-1]) + 1)


def blend(canvas: Array, mask: Array, colour: Array | tuple[float, float, float], rows: slice | None = None) -> None:
    """In place: ``canvas = canvas * (1 - mask) + colour * mask`` (optionally on a band of rows)."""
    colour_array = np.asarray(colour, dtype=np.float32)
    if rows is None:
        box = _crop(mask)
        if box is None:
            return
        target, alpha = canvas[box], mask[box][..., None]
    else:
        target, alpha = canvas[rows], mask[..., None]
    target += (colour_array - target) * alpha


def add_light(canvas: Array, intensity: Array, colour: tuple[float, float, float], rows: slice | None = None) -> None:
    """In place, screen-blend light of ``colour`` with ``intensity`` (keeps values under 1)."""
    colour_array = np.asarray(colour, dtype=np.float32)
    if rows is None:
        box = _crop(intensity)
        if box is None:
            return
        target, amount = canvas[box], intensity[box]
    else:
        target, amount = canvas[rows], intensity
    target += amount[..., None] * colour_array * (1.0 - target)


def mix(a: tuple[float, float, float], b: tuple[float, float, float], t: float) -> tuple[float, float, float]:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


def luminance(canvas: Array) -> Array:
    value: Array = canvas[..., 0] * 0.299 + canvas[..., 1] * 0.587 + canvas[..., 2] * 0.114
    return value
