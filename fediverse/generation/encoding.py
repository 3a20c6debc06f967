"""Encode a backend's Pillow image into the bytes a ``GeneratedImage`` carries."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # Pillow loads on first use (docs/decisions/0053)
    from PIL import Image

OutputFormat = Literal["auto", "jpeg", "png"]
OUTPUT_FORMATS: tuple[str, ...] = ("auto", "jpeg", "png")


def encode_output(
    image: Image.Image, output_format: str, *, quality: int = 92, lossless: bool = False
) -> tuple[bytes, str]:
    """JPEG (4:4:4 at quality >= 90) or PNG; ``auto`` picks PNG when ``lossless`` (flat-colour art)."""
    output = io.BytesIO()
    if output_format == "png" or (output_format == "auto" and lossless):
        image.save(output, "PNG", compress_level=3)
        return output.getvalue(), "image/png"
    image.convert("RGB").save(output, "JPEG", quality=quality, subsampling=0 if quality >= 90 else 2)
    return output.getvalue(), "image/jpeg"
