"""The mutable canvas and layout shared by the layers of one painting."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .noise import Array
from .recipe import Recipe

Colour = tuple[float, float, float]


@dataclass
class Scene:
    recipe: Recipe
    width: int
    height: int
    rng: np.random.Generator
    canvas: Array
    horizon: int  # first row below the horizon line
    #: Row of the nearest ground surface per column; foreground objects stand on it.
    ground: Array = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    light: tuple[float, float, float] | None = None  # (x, y, radius) of the sun or moon, for reflections
    drawn: list[str] = field(default_factory=list)  # motifs actually painted, for the alt text

    @property
    def unit(self) -> float:
        """One pixel of a 1024-px image, in this image's pixels: keeps detail sizes resolution-independent."""
        return min(self.width, self.height) / 1024.0

    def colour(self, slot: str) -> Colour:
        return self.recipe.palette[slot]

    def rows(self, top: int, bottom: int) -> tuple[slice, Array]:
        """A row slice clipped to the canvas and the y coordinate (column vector) of each row."""
        top, bottom = max(0, top), min(self.height, bottom)
        return slice(top, bottom), np.arange(top, bottom, dtype=np.float32)[:, None]


def new_scene(recipe: Recipe, width: int, height: int, seed: int) -> Scene:
    rng = np.random.default_rng(_mix_seed(recipe.prompt, seed))
    horizon_share = {"water": 0.6, "grid": 0.56, "flow": 0.7}
    share = min((horizon_share.get(motif, 0.66) for motif in recipe.motifs), default=0.66)
    if "city" in recipe.motifs and share > 0.6:
        share = 0.78  # a street-level skyline: little empty ground
    share += float(rng.uniform(-0.04, 0.04))
    horizon = int(height * share)
    canvas = np.zeros((height, width, 3), dtype=np.float32)
    ground = np.full(width, float(horizon), dtype=np.float32)
    return Scene(recipe, width, height, rng, canvas, horizon, ground)


def _mix_seed(prompt: str, seed: int) -> list[int]:
    digest = hashlib.sha256(f"{prompt}\x00{seed}".encode()).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4)]
