"""The procedural "mood painter": the offline default generator."""

from __future__ import annotations

from .generator import GENERATOR_VERSION, ProceduralGenerator
from .recipe import Recipe, build_recipe, normalize_prompt

__all__ = ["GENERATOR_VERSION", "ProceduralGenerator", "Recipe", "build_recipe", "normalize_prompt"]
