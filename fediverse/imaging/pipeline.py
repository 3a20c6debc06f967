"""Upload/generated image -> stored original, display copy, thumbnail, size and blurhash.

Format choices, measured with ``bench/bench_generate.py`` (2-core box, p50):
* original: JPEG q90 (2048x1536 photo: 10 ms, 631 KiB; PNG level 6 took 568 ms and 5.9 MiB), PNG only
  when the image has real transparency;
* display (1280 px): JPEG q85 (3 ms, 95 KiB) rather than WebP (26 ms, 19 KiB at method 2): Pixelfed
  accepts only JPEG/PNG/GIF attachments, and this is the copy that federates;
* thumbnail (400 px): WebP q80 method 2 (2 ms, ~1 KiB vs 5 KiB JPEG), shown only by our own pages.
"""

from __future__ import annotations

import asyncio
import functools
import io
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .decode import DecodedImage, ImageLimits, decode_image
from .gate import decode_gate
from .placeholder import compute_blurhash

if TYPE_CHECKING:  # loaded on first use, not at start (docs/decisions/0053)
    from PIL import Image

_KEEPABLE = {"JPEG": "image/jpeg", "PNG": "image/png"}


@dataclass(frozen=True)
class ImagingOptions:
    max_side: int = 2048  # the stored original's long side
    display_side: int = 1280
    thumbnail_side: int = 400
    original_quality: int = 90
    display_quality: int = 85
    thumbnail_quality: int = 80
    thumbnail_format: str = "WEBP"  # or "JPEG"
    limits: ImageLimits = field(default_factory=ImageLimits)


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    mime: str
    width: int
    height: int


@dataclass(frozen=True)
class ProcessedImage:
    original: EncodedImage
    display: EncodedImage
    thumbnail: EncodedImage
    blurhash: str
    source_format: str
    animated: bool  # the source had several frames; we kept the first

    @property
    def width(self) -> int:
        return self.original.width

    @property
    def height(self) -> int:
        return self.original.height


def process_image_sync(
    data: bytes, options: ImagingOptions | None = None, *, keep_original: bool = False
) -> ProcessedImage:
    """Blocking body of ``process_image``.

    ``keep_original`` is for our own generated images: when they are already a JPEG or PNG within the size
    cap, their bytes (with the provenance metadata we wrote) are stored as they are. Uploads are always
    re-encoded, which strips EXIF, GPS, XMP and ICC. Runs under the process's ``decode_gate``.
    """
    with decode_gate.slot():
        return _process(data, options or ImagingOptions(), keep_original=keep_original)


def _process(data: bytes, options: ImagingOptions, *, keep_original: bool) -> ProcessedImage:
    from PIL import Image

    decoded = decode_image(data, options.limits, target_side=None if keep_original else options.max_side)
    image = _fit(decoded.image, options.max_side)
    original = _keep(data, decoded) if keep_original and image is decoded.image else None
    if original is None:
        original = _encode_original(image, options)
    display = _derive(image, options.display_side, "JPEG", options.display_quality, original)
    thumbnail = _derive(image, options.thumbnail_side, options.thumbnail_format, options.thumbnail_quality, None)
    thumb_image = Image.open(io.BytesIO(thumbnail.data))
    return ProcessedImage(
        original=original,
        display=display,
        thumbnail=thumbnail,
        blurhash=compute_blurhash(thumb_image),
        source_format=decoded.source_format,
        animated=decoded.animated,
    )


async def process_image(
    data: bytes,
    options: ImagingOptions | None = None,
    *,
    keep_original: bool = False,
    executor: Executor | None = None,
) -> ProcessedImage:
    """Decode, check, strip, resize and encode ``data`` off the event loop; raises ``ImageRejected``.

    Waits its turn at the ``decode_gate`` on the loop, before it takes a thread."""
    work = functools.partial(process_image_sync, data, options, keep_original=keep_original)
    async with decode_gate.turn():
        return await asyncio.get_running_loop().run_in_executor(executor, work)


def _fit(image: Image.Image, side: int) -> Image.Image:
    if max(image.size) <= side:
        return image
    from PIL import Image

    fitted = image.copy()
    fitted.thumbnail((side, side), Image.Resampling.LANCZOS)
    return fitted


def _keep(data: bytes, decoded: DecodedImage) -> EncodedImage | None:
    mime = _KEEPABLE.get(decoded.source_format)
    if mime is None or decoded.animated:
        return None
    return EncodedImage(data, mime, decoded.image.width, decoded.image.height)


def _encode_original(image: Image.Image, options: ImagingOptions) -> EncodedImage:
    if image.mode == "RGBA":
        return _encode(image, "PNG", 0)
    return _encode(image, "JPEG", options.original_quality)


def _derive(image: Image.Image, side: int, image_format: str, quality: int, reuse: EncodedImage | None) -> EncodedImage:
    if reuse is not None and max(image.size) <= side and reuse.mime == "image/jpeg":
        return reuse
    from PIL import Image

    scaled = image.copy()
    scaled.thumbnail((side, side), Image.Resampling.BICUBIC)
    if image_format == "JPEG" and scaled.mode == "RGBA":
        image_format = "PNG"  # keep transparency rather than flatten it onto an arbitrary colour
    return _encode(scaled, image_format, quality)


def _encode(image: Image.Image, image_format: str, quality: int) -> EncodedImage:
    output = io.BytesIO()
    if image_format == "JPEG":
        image.save(output, "JPEG", quality=quality, subsampling=2 if quality < 90 else 0)
        mime = "image/jpeg"
    elif image_format == "WEBP":
        image.save(output, "WEBP", quality=quality, method=2)
        mime = "image/webp"
    elif image_format == "PNG":
        image.save(output, "PNG", compress_level=6)
        mime = "image/png"
    else:
        raise ValueError(f"unsupported output format {image_format!r}")
    return EncodedImage(output.getvalue(), mime, image.width, image.height)
