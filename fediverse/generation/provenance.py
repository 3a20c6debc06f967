"""Provenance of generated images: in-file metadata, the Note's generation block, and the visible line.

In the file (generated images only; uploads are stripped by ``fediverse.imaging``):
* XMP with ``Iptc4xmpExt:DigitalSourceType``, ``dc:description`` (the prompt, unless hidden) and
  ``xmp:CreatorTool``: the IPTC-recommended place for the AI label.
* An AUTOMATIC1111-style ``parameters`` string, which Civitai and most SD tools read: a PNG ``tEXt``/``iTXt``
  chunk, or for JPEG the EXIF ``UserComment`` ("UNICODE\\0" + UTF-16BE, as A1111 writes it via piexif).

A hidden prompt hides everything that could give it away (``SHOWN_WHEN_PROMPT_HIDDEN``): the file, the Note
and the line then name only the generator and the kind of image.

Chunks and segments are spliced into the encoded bytes, so pixels are never re-encoded.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from .base import IPTC_DIGITAL_SOURCE_TYPE, GeneratedImage

if TYPE_CHECKING:  # Pillow loads on first use (docs/decisions/0053)
    from PIL import Image

XMP_NAMESPACE_ID = b"http://ns.adobe.com/xap/1.0/\x00"
#: PNG chunks that carry metadata rather than pixels (text, XMP, EXIF, C2PA's ``caBX``).
_PNG_METADATA_CHUNKS = frozenset({b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"caBX"})
#: JPEG APP1 (EXIF, XMP) and APP11 (JUMBF: C2PA) segments; APP0 (JFIF) and APP2 (ICC) stay.
_JPEG_METADATA_MARKERS = frozenset({0xE1, 0xEB})
EXIF_USER_COMMENT = 0x9286
EXIF_SOFTWARE = 0x0131
EXIF_IFD = 0x8769
#: What a post with a hidden prompt still says about how it was made: the generator, the kind of image
#: and the post it remixes. An allowlist, since backends copy what they like into ``parameters``
#: (the negative prompt, among others), and the seed, style and size confirm a guessed prompt with a
#: deterministic backend.
SHOWN_WHEN_PROMPT_HIDDEN = ("backend", "model", "digitalSourceType", "remixOf")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: IPTC digital source types that say software made the picture (a model, or an algorithm).
_MACHINE_MADE = re.compile(
    re.escape(IPTC_DIGITAL_SOURCE_TYPE.encode())
    + rb"(trainedAlgorithmicMedia|compositeWithTrainedAlgorithmicMedia|algorithmicMedia)(?![A-Za-z])"
)


@dataclass(frozen=True)
class ProvenanceInfo:
    """What the file and the Note say about how an image was made."""

    digital_source_type: str
    creator_tool: str  # e.g. "Reverie 0.1.0 · procedural mood painter 1.0"
    prompt: str | None  # None when the author hides the prompt
    negative_prompt: str | None
    seed: int | None
    backend: str
    model: str
    parameters: Mapping[str, Any]
    remix_of: str | None = None
    prompt_hidden: bool = False  # then only ``SHOWN_WHEN_PROMPT_HIDDEN`` is set


def provenance_from_image(
    image: GeneratedImage,
    *,
    prompt: str,
    negative_prompt: str = "",
    remix_of: str | None = None,
    hide_prompt: bool = False,
    software: str = "Reverie",
) -> ProvenanceInfo:
    metadata = image.metadata
    model = str(metadata.get("model", metadata.get("backend", "unknown")))
    version = metadata.get("version")
    tool = f"{software} · {model}" + (f" {version}" if version else "")
    info = ProvenanceInfo(
        digital_source_type=image.digital_source_type,
        creator_tool=tool,
        prompt=prompt,
        negative_prompt=negative_prompt or None,
        seed=image.seed,
        backend=str(metadata.get("backend", "unknown")),
        model=model + (f" {version}" if version else ""),
        parameters=dict(metadata.get("parameters", {})),
        remix_of=remix_of,
    )
    return without_prompt(info) if hide_prompt else info


def without_prompt(info: ProvenanceInfo) -> ProvenanceInfo:
    """``info`` with only what ``SHOWN_WHEN_PROMPT_HIDDEN`` allows: no prompt, seed or parameters."""
    return replace(info, prompt=None, negative_prompt=None, seed=None, parameters={}, prompt_hidden=True)


def shared_generation(block: Mapping[str, Any], *, hide_prompt: bool) -> dict[str, Any]:
    """The generation block others may see: all of it, or when the prompt is hidden only the allowlist."""
    if not hide_prompt:
        return dict(block)
    return {key: block[key] for key in SHOWN_WHEN_PROMPT_HIDDEN if key in block}


def build_parameters_text(info: ProvenanceInfo, width: int, height: int) -> str:
    """The AUTOMATIC1111 infotext: prompt line, optional ``Negative prompt:`` line, then ``Key: value`` pairs."""
    lines = [info.prompt or "(prompt hidden)"]
    if info.negative_prompt:
        lines.append(f"Negative prompt: {info.negative_prompt}")
    pairs: list[tuple[str, Any]] = []
    steps = info.parameters.get("steps")
    if steps is not None:
        pairs.append(("Steps", steps))
    if not info.prompt_hidden:
        pairs.append(("Seed", info.seed if info.seed is not None else "none"))
    pairs.append(("Size", f"{width}x{height}"))
    pairs.append(("Model", info.model))
    pairs.append(("Backend", info.backend))
    style = info.parameters.get("style")
    if style and style != "none":
        pairs.append(("Style", style))
    pairs.append(("Digital source type", info.digital_source_type.rsplit("/", 1)[-1]))
    lines.append(", ".join(f"{key}: {_infotext_value(value)}" for key, value in pairs))
    return "\n".join(lines)


def build_xmp(info: ProvenanceInfo) -> bytes:
    description = ""
    if info.prompt:
        description = (
            "<dc:description><rdf:Alt>"
            f'<rdf:li xml:lang="x-default">{escape(info.prompt)}</rdf:li>'
            "</rdf:Alt></dc:description>"
        )
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        ' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        f"<Iptc4xmpExt:DigitalSourceType>{escape(info.digital_source_type)}</Iptc4xmpExt:DigitalSourceType>"
        f"<xmp:CreatorTool>{escape(info.creator_tool)}</xmp:CreatorTool>"
        f"{description}"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="r"?>'
    )
    return packet.encode("utf-8")


def embed_provenance(data: bytes, mime: str, info: ProvenanceInfo, *, width: int, height: int) -> bytes:
    """Return ``data`` with XMP and the ``parameters`` text added (PNG or JPEG), pixels untouched."""
    parameters = build_parameters_text(info, width, height)
    xmp = build_xmp(info)
    if mime == "image/png":
        return _embed_png(data, parameters, xmp, info.creator_tool)
    if mime == "image/jpeg":
        return _embed_jpeg(data, parameters, xmp, info.creator_tool)
    raise ValueError(f"cannot embed provenance into {mime}")


def read_machine_source_type(data: bytes) -> str | None:
    """The IPTC digital source type an uploaded file declares, when it says the image was machine-made.

    XMP is plain text inside JPEG APP1, PNG iTXt and WebP chunks, so the file's own bytes are searched;
    a compressed XMP block is not found, and the upload then simply carries no label.
    """
    found = _MACHINE_MADE.search(data)
    return IPTC_DIGITAL_SOURCE_TYPE + found.group(1).decode() if found else None


def strip_provenance(data: bytes, mime: str) -> bytes:
    """``data`` without its text, XMP, EXIF and C2PA metadata, pixels untouched (to stamp it afresh)."""
    if mime == "image/png":
        return _strip_png(data)
    if mime == "image/jpeg":
        return _strip_jpeg(data)
    raise ValueError(f"cannot strip provenance from {mime}")


def read_parameters_text(image: Image.Image) -> str | None:
    """The A1111 ``parameters`` string from a PNG text chunk or a JPEG EXIF UserComment, if present."""
    text = image.info.get("parameters")
    if isinstance(text, str):
        return text
    comment = image.getexif().get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT)
    if isinstance(comment, bytes) and comment.startswith(b"UNICODE\x00"):
        return comment[8:].decode("utf-16-be")
    return None


def generation_metadata(info: ProvenanceInfo) -> dict[str, Any]:
    """The generation block that travels in the Note (under Reverie's JSON-LD terms)."""
    return {
        "prompt": info.prompt,
        "negativePrompt": info.negative_prompt,
        "seed": info.seed,
        "backend": info.backend,
        "model": info.model,
        "parameters": dict(info.parameters),
        "digitalSourceType": info.digital_source_type,
        "remixOf": info.remix_of,
    }


def render_provenance_line(info: ProvenanceInfo, *, max_prompt_chars: int = 280) -> str:
    """The human line appended to a post, e.g. ``🎨 Generated with procedural mood painter 1.0 · seed 42 · …``.

    Plain text: the caller escapes it into the Note's HTML.
    """
    parts = [f"🎨 Generated with {info.model}"]
    if info.seed is not None:
        parts.append(f"seed {info.seed}")
    if info.prompt:
        prompt = " ".join(info.prompt.split())
        if len(prompt) > max_prompt_chars:
            prompt = prompt[: max_prompt_chars - 1].rstrip() + "…"
        parts.append(f"prompt: “{prompt}”")
    return " · ".join(parts)


def provenance_from_block(
    block: Mapping[str, Any], *, hide_prompt: bool = False, software: str = "Reverie"
) -> ProvenanceInfo:
    """The ``ProvenanceInfo`` back from a generation block (``generation_metadata``), e.g. to stamp a file
    again without its prompt. Tolerant of blocks from other servers: wrong types read as absent."""
    prompt, negative, seed = block.get("prompt"), block.get("negativePrompt"), block.get("seed")
    parameters, remix_of = block.get("parameters"), block.get("remixOf")
    model = str(block.get("model") or block.get("backend") or "an image generator")
    info = ProvenanceInfo(
        digital_source_type=str(block.get("digitalSourceType") or ""),
        creator_tool=f"{software} · {model}",
        prompt=prompt if isinstance(prompt, str) and prompt else None,
        negative_prompt=negative if isinstance(negative, str) and negative else None,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        backend=str(block.get("backend") or "unknown"),
        model=model,
        parameters=dict(parameters) if isinstance(parameters, Mapping) else {},
        remix_of=remix_of if isinstance(remix_of, str) else None,
    )
    return without_prompt(info) if hide_prompt else info


def describe_generation(block: Mapping[str, Any], *, hide_prompt: bool = False) -> str:
    """``render_provenance_line`` for a generation block; only the generator when the prompt is hidden."""
    return render_provenance_line(provenance_from_block(block, hide_prompt=hide_prompt))


def describe_without_prompt(block: Mapping[str, Any]) -> str:
    """Alt text for a generated image whose prompt is hidden, in place of the generator's own description
    (which is written from the prompt): the kind of image and its generator, nothing it shows."""
    return f"Image generated with {provenance_from_block(block, hide_prompt=True).model} (its prompt is private)."


def _infotext_value(value: Any) -> str:
    text = str(value)
    if "," in text or ":" in text or "\n" in text:  # A1111 quotes values that would break the key/value parsing
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_text_chunk(keyword: str, text: str) -> bytes:
    try:
        return _png_chunk(b"tEXt", keyword.encode("latin-1") + b"\x00" + text.encode("latin-1"))
    except UnicodeEncodeError:  # iTXt: keyword, no compression, empty language and translated keyword
        return _png_chunk(b"iTXt", keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))


def _embed_png(data: bytes, parameters: str, xmp: bytes, software: str) -> bytes:
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    header_end = 8 + 8 + struct.unpack(">I", data[8:12])[0] + 4
    chunks = (
        _png_text_chunk("parameters", parameters)
        + _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp)
        + _png_text_chunk("Software", software)
    )
    return data[:header_end] + chunks + data[header_end:]


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    if len(payload) + 2 > 0xFFFF:
        raise ValueError("metadata segment too large for JPEG")
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _embed_jpeg(data: bytes, parameters: str, xmp: bytes, software: str) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG file")
    position = 2
    if data[2:4] == b"\xff\xe0":  # keep JFIF APP0 first, as readers expect
        position = 4 + struct.unpack(">H", data[4:6])[0]
    from PIL import Image  # loaded on first use (docs/decisions/0053)

    exif = Image.Exif()
    exif[EXIF_SOFTWARE] = software
    exif.get_ifd(EXIF_IFD)[EXIF_USER_COMMENT] = b"UNICODE\x00" + parameters.encode("utf-16-be")
    segments = _jpeg_segment(0xE1, exif.tobytes()) + _jpeg_segment(0xE1, XMP_NAMESPACE_ID + xmp)
    return data[:position] + segments + data[position:]


def _strip_png(data: bytes) -> bytes:
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    kept, position = [PNG_SIGNATURE], len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length = struct.unpack(">I", data[position : position + 4])[0]
        end = position + 12 + length
        if data[position + 4 : position + 8] not in _PNG_METADATA_CHUNKS:
            kept.append(data[position:end])
        position = end
    return b"".join(kept)


def _strip_jpeg(data: bytes) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG file")
    kept, position = [data[:2]], 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xDA:  # start of scan: entropy-coded data follows, no more metadata segments
            break
        end = position + 2 + struct.unpack(">H", data[position + 2 : position + 4])[0]
        if marker not in _JPEG_METADATA_MARKERS:
            kept.append(data[position:end])
        position = end
    kept.append(data[position:])
    return b"".join(kept)
