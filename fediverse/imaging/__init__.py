"""Image decoding, cleaning, resizing, encoding and blurhash: the imaging pipeline.

Framework-free (Pillow, blurhash-python); CPU work is run off the event loop by ``process_image``.
"""

from __future__ import annotations

from .decode import ImageLimits, ImageRejected, decode_image
from .gate import MAX_CONCURRENT_DECODES, DecodeGate, decode_gate
from .pipeline import EncodedImage, ImagingOptions, ProcessedImage, process_image, process_image_sync
from .placeholder import compute_blurhash, is_valid_blurhash

__all__ = [
    "MAX_CONCURRENT_DECODES",
    "DecodeGate",
    "EncodedImage",
    "ImageLimits",
    "ImageRejected",
    "ImagingOptions",
    "ProcessedImage",
    "compute_blurhash",
    "decode_gate",
    "decode_image",
    "is_valid_blurhash",
    "process_image",
    "process_image_sync",
]
