"""Image files of draft media: process, stamp with provenance, store (forgetting them: ``fediverse.core.media_files``).

A generated image keeps its own bytes as the original (``keep_original``), stamped with XMP, the
A1111 ``parameters`` text and, when enabled, a signed C2PA manifest. When the display copy *is* the
original (a JPEG no larger than the display size), it carries the same stamp. The blocking parts run in
the default executor, never on the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from dataclasses import dataclass, replace

from fediverse import __version__
from fediverse.generation import GeneratedImage
from fediverse.generation.provenance import ProvenanceInfo, embed_provenance, strip_provenance
from fediverse.imaging import ProcessedImage, process_image_sync
from fediverse.studio.signing import c2pa_signing
from storage.media import MediaStore
from storage.models import Media


@dataclass(frozen=True)
class StoredFiles:
    """Where a processed image's copies live, and what a ``Media`` row records about them.

    Width, height and type describe the display copy: it is what ``url`` serves and what federates.
    """

    original_key: str
    display_key: str
    thumbnail_key: str
    width: int
    height: int
    mime: str
    size_bytes: int
    sha256: str
    blurhash: str

    def apply_to(self, media: Media) -> Media:
        for name, value in vars(self).items():
            setattr(media, name, value)
        return media


@dataclass(frozen=True)
class Stamp:
    """What goes into a generated file: provenance, and a C2PA signature when the instance signs."""

    info: ProvenanceInfo
    credentials: c2pa_signing.SigningCredentials | None = None

    def apply(self, data: bytes, mime: str, width: int, height: int) -> bytes:
        stamped = embed_provenance(data, mime, self.info, width=width, height=height)
        if self.credentials is None:
            return stamped
        claim = c2pa_signing.C2paClaim(
            title=f"image.{mime.rsplit('/', 1)[-1]}",
            digital_source_type=self.info.digital_source_type,
            software_name="Reverie",
            software_version=__version__,
            generator=f"{self.info.backend} · {self.info.model}",
        )
        return c2pa_signing.sign_c2pa(stamped, mime, claim, self.credentials)


def prepare_generated_sync(image: GeneratedImage, stamp: Stamp) -> ProcessedImage:
    """Blocking: the three copies of a generated image, the original (and a display copy that is the
    original) stamped."""
    processed = process_image_sync(image.data, keep_original=True)
    original = processed.original
    stamped = replace(original, data=stamp.apply(original.data, original.mime, original.width, original.height))
    display = stamped if processed.display is original else processed.display
    return replace(processed, original=stamped, display=display)


def restamp_sync(data: bytes, mime: str, stamp: Stamp) -> bytes:
    """Blocking: ``data`` with its provenance replaced by ``stamp`` (e.g. without the hidden prompt)."""
    from PIL import Image  # loaded on first use, not at start (docs/decisions/0053)

    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return stamp.apply(strip_provenance(data, mime), mime, width, height)


async def prepare_generated(image: GeneratedImage, stamp: Stamp) -> ProcessedImage:
    return await asyncio.get_running_loop().run_in_executor(None, prepare_generated_sync, image, stamp)


async def restamp(data: bytes, mime: str, stamp: Stamp) -> bytes:
    return await asyncio.get_running_loop().run_in_executor(None, restamp_sync, data, mime, stamp)


async def store_files(store: MediaStore, processed: ProcessedImage) -> StoredFiles:
    original, display = processed.original, processed.display
    original_key = await store.put(original.data, original.mime)
    display_key = original_key if display is original else await store.put(display.data, display.mime)
    return StoredFiles(
        original_key=original_key,
        display_key=display_key,
        thumbnail_key=await store.put(processed.thumbnail.data, processed.thumbnail.mime),
        width=display.width,
        height=display.height,
        mime=display.mime,
        size_bytes=len(display.data),
        sha256=hashlib.sha256(original.data).hexdigest(),
        blurhash=processed.blurhash,
    )
