"""Safe decoding of untrusted image bytes.

Limits are checked per call against the header before any pixel is decoded (Pillow's own bomb check
uses process-wide globals, which we leave alone). Decoded images come back upright (EXIF orientation
applied), in sRGB, as RGB or RGBA, with every metadata block dropped.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loaded on first use, not at start (docs/decisions/0053)
    from PIL import Image

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")


class ImageRejected(ValueError):
    """The bytes are not an image we accept; ``str(error)`` is a message for the person uploading."""

    def __init__(self, message: str, *, reason: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.detail = detail or message


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 40 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_side: int = 16_384
    min_side: int = 1


@dataclass
class DecodedImage:
    image: Image.Image  # RGB or RGBA, upright, sRGB, no metadata
    source_format: str
    animated: bool
    source_width: int
    source_height: int


def decode_image(data: bytes, limits: ImageLimits | None = None, *, target_side: int | None = None) -> DecodedImage:
    """Decode ``data`` or raise ``ImageRejected``.

    ``target_side`` lets JPEG decoding use a reduced-size DCT (``draft``) when the caller will downscale to
    at most that long side anyway: a 12 MP photo decodes in about half the time.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    limits = limits or ImageLimits()
    if len(data) > limits.max_bytes:
        raise ImageRejected(
            f"The file is too large (limit {limits.max_bytes // (1024 * 1024)} MB).", reason="too_large"
        )
    if not data:
        raise ImageRejected("The file is empty.", reason="not_an_image")
    try:
        image: Image.Image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # The warning only raises where warnings are errors (tests); our own limit below is lower anyway.
        if isinstance(error, Image.DecompressionBombError | Image.DecompressionBombWarning):
            raise ImageRejected(
                "The image has too many pixels.", reason="too_many_pixels", detail=str(error)
            ) from error
        raise ImageRejected(
            "This file is not a supported image (use JPEG, PNG, WebP or GIF).", reason="not_an_image"
        ) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageRejected("The image file is damaged.", reason="corrupt", detail=str(error)) from error
    width, height = image.size
    _check_size(width, height, limits)
    source_format = image.format or "unknown"
    animated = bool(getattr(image, "is_animated", False))
    if target_side and source_format == "JPEG" and max(width, height) > target_side:
        # Let the DCT scale down (1/2, 1/4, 1/8) when the result stays within 5 % of the target: a 4032 px
        # photo then decodes straight to 2016 px instead of decoding 12 MP and resampling.
        scale = 0.95 * target_side / max(width, height)
        image.draft(image.mode, (math.ceil(width * scale), math.ceil(height * scale)))
    try:
        image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image)
        image = _to_srgb(image)
    except Image.DecompressionBombError as error:
        raise ImageRejected("The image has too many pixels.", reason="too_many_pixels", detail=str(error)) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageRejected(
            "The image file is damaged or incomplete.", reason="corrupt", detail=f"{type(error).__name__}: {error}"
        ) from error
    image.info = {}
    return DecodedImage(image, source_format, animated, width, height)


def _check_size(width: int, height: int, limits: ImageLimits) -> None:
    if width < limits.min_side or height < limits.min_side:
        raise ImageRejected("The image has no pixels.", reason="bad_dimensions")
    if width > limits.max_side or height > limits.max_side:
        raise ImageRejected(
            f"The image is {width}x{height} pixels; each side must be at most {limits.max_side}.",
            reason="too_many_pixels",
        )
    if width * height > limits.max_pixels:
        megapixels = limits.max_pixels / 1_000_000
        raise ImageRejected(
            f"The image is {width * height / 1_000_000:.1f} megapixels; the limit is {megapixels:.0f}.",
            reason="too_many_pixels",
        )


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert to sRGB RGB/RGBA; drop alpha that is fully opaque."""
    from PIL import ImageCms

    icc = image.info.get("icc_profile")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    target = "RGBA" if has_alpha else "RGB"
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=target)
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: keep the pixels as they are, the profile is dropped either way
    if image.mode != target:
        image = image.convert(target)
    if target == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        image = image.convert("RGB")
    return image
