from __future__ import annotations

import asyncio
import io
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import blurhash
import numpy as np
import pytest
from PIL import Image, ImageCms

from fediverse.imaging import (
    ImageLimits,
    ImageRejected,
    ImagingOptions,
    compute_blurhash,
    is_valid_blurhash,
    process_image,
    process_image_sync,
)

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def gradient(width: int, height: int, mode: str = "RGB") -> Image.Image:
    xs = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    ys = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    pixels = np.stack(
        [np.broadcast_to(xs, (height, width)), np.broadcast_to(ys, (height, width)), 128 + 0 * xs * ys], -1
    )
    image = Image.fromarray(pixels.astype(np.uint8), mode="RGB")
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Image.Image, image_format: str, **params: object) -> bytes:
    output = io.BytesIO()
    image.save(output, image_format, **params)
    return output.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression bomb's calling card)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_gps_and_all_exif_are_stripped_from_uploads() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    upload = encode(gradient(640, 480), "JPEG", exif=exif.tobytes(), comment=b"secret note")
    assert GPS_IFD in opened(upload).getexif()
    result = process_image_sync(upload)
    for rendition in (result.original, result.display):
        image = opened(rendition.data)
        assert len(image.getexif()) == 0
        assert "exif" not in image.info and "comment" not in image.info
    assert b"PhoneMaker" not in result.original.data


def test_xmp_and_icc_profiles_are_dropped() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    upload = encode(gradient(300, 200), "PNG", icc_profile=icc, pnginfo=None)
    result = process_image_sync(upload)
    image = opened(result.original.data)
    assert "icc_profile" not in image.info
    assert result.original.mime == "image/jpeg"


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (80, 40), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 40, 40))  # left half red
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # "rotate 90° clockwise to display"
    result = process_image_sync(encode(image, "JPEG", exif=exif.tobytes(), quality=95))
    upright = opened(result.original.data).convert("RGB")
    assert upright.size == (40, 80)
    top, bottom = upright.getpixel((20, 10)), upright.getpixel((20, 70))
    assert top[0] > 200 and top[2] < 60  # the red half is now on top
    assert bottom[2] > 200 and bottom[0] < 60
    assert ORIENTATION not in opened(result.original.data).getexif()


def test_a_tiny_png_declaring_huge_dimensions_is_rejected() -> None:
    with pytest.raises(ImageRejected) as caught:
        process_image_sync(png_declaring(100_000, 100_000))
    assert caught.value.reason == "too_many_pixels"
    with pytest.raises(ImageRejected, match="megapixels") as caught:
        process_image_sync(png_declaring(7000, 7000))  # 49 MP: under Pillow's own threshold, over ours
    assert caught.value.reason == "too_many_pixels"


def test_absurd_sides_are_rejected() -> None:
    with pytest.raises(ImageRejected, match="each side must be at most"):
        process_image_sync(png_declaring(30_000, 10))


def test_a_real_over_limit_image_is_rejected() -> None:
    big = encode(Image.new("1", (6600, 6400)), "PNG")  # 42 MP, a few KB
    with pytest.raises(ImageRejected, match=r"42\.2 megapixels; the limit is 40"):
        process_image_sync(big)
    small_limits = ImagingOptions(limits=ImageLimits(max_pixels=100_000))
    with pytest.raises(ImageRejected, match="megapixels"):
        process_image_sync(encode(gradient(400, 300), "JPEG"), small_limits)


def test_byte_limit() -> None:
    with pytest.raises(ImageRejected, match="too large") as caught:
        process_image_sync(b"\xff" * 2048, ImagingOptions(limits=ImageLimits(max_bytes=1024)))
    assert caught.value.reason == "too_large"


@pytest.mark.parametrize("image_format", ["JPEG", "PNG"])
def test_truncated_images_are_rejected(image_format: str) -> None:
    data = encode(gradient(400, 300), image_format)
    with pytest.raises(ImageRejected, match="damaged") as caught:
        process_image_sync(data[: len(data) // 2])
    assert caught.value.reason == "corrupt"


@pytest.mark.parametrize("data", [b"", b"hello, world", b"%PDF-1.7\n1 0 obj", b"GIF89a"])
def test_non_images_are_rejected(data: bytes) -> None:
    with pytest.raises(ImageRejected) as caught:
        process_image_sync(data)
    assert caught.value.reason in ("not_an_image", "corrupt")
    assert str(caught.value)  # a message for the person uploading


def test_unsupported_formats_are_rejected() -> None:
    with pytest.raises(ImageRejected, match="JPEG, PNG, WebP or GIF"):
        process_image_sync(encode(gradient(64, 64), "BMP"))


def test_animated_gif_keeps_its_first_frame() -> None:
    frames = [Image.new("RGB", (60, 40), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    output = io.BytesIO()
    frames[0].save(output, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = process_image_sync(output.getvalue())
    assert result.animated
    assert result.original.mime == "image/jpeg"
    red = opened(result.original.data).convert("RGB").getpixel((30, 20))
    assert red[0] > 200 and red[2] < 60


def test_sizes_are_capped_and_derivatives_made() -> None:
    result = process_image_sync(encode(gradient(3000, 1000), "PNG"))
    assert (result.width, result.height) == (2048, 683)
    assert opened(result.original.data).size == (2048, 683)
    assert (result.display.width, result.display.height) == (1280, 427)
    assert result.display.mime == "image/jpeg"
    assert max(result.thumbnail.width, result.thumbnail.height) == 400
    assert result.thumbnail.mime == "image/webp"
    assert opened(result.thumbnail.data).size == (result.thumbnail.width, result.thumbnail.height)


def test_large_jpegs_decode_at_reduced_size_within_the_cap() -> None:
    result = process_image_sync(encode(gradient(4032, 3024), "JPEG", quality=85))
    assert 1946 <= result.width <= 2048
    assert result.width / result.height == pytest.approx(4 / 3, rel=0.01)


def test_transparency_is_kept_as_png_and_opaque_alpha_dropped() -> None:
    transparent = gradient(200, 100, "RGBA")
    transparent.putalpha(Image.linear_gradient("L").resize((200, 100)))
    result = process_image_sync(encode(transparent, "PNG"))
    assert result.original.mime == "image/png"
    assert opened(result.original.data).mode == "RGBA"
    opaque = process_image_sync(encode(gradient(200, 100, "RGBA"), "PNG"))
    assert opaque.original.mime == "image/jpeg"


def test_keep_original_stores_generated_bytes_verbatim() -> None:
    data = encode(gradient(512, 512), "PNG", pnginfo=None)
    result = process_image_sync(data, keep_original=True)
    assert result.original.data == data
    resized = process_image_sync(encode(gradient(3000, 500), "PNG"), keep_original=True)
    assert resized.width == 2048  # over the cap: re-encoded after all


def test_blurhash_is_valid_and_decodes_to_similar_colours() -> None:
    image = Image.new("RGB", (300, 200), (200, 40, 40))
    image.paste((40, 40, 200), (150, 0, 300, 200))
    result = process_image_sync(encode(image, "PNG"))
    assert is_valid_blurhash(result.blurhash)
    assert len(result.blurhash) == 4 + 2 * 4 * 4  # 4x4 components, as Mastodon emits
    decoded = np.asarray(blurhash.decode(result.blurhash, 32, 32, mode=blurhash.PixelMode.RGB), dtype=np.float32)
    left, right = decoded[:, :8].mean(axis=(0, 1)), decoded[:, -8:].mean(axis=(0, 1))
    assert left[0] > left[2] + 60  # red on the left
    assert right[2] > right[0] + 60  # blue on the right


def test_compute_blurhash_leaves_the_image_usable() -> None:
    image = gradient(64, 64)
    value = compute_blurhash(image, 4, 3)
    assert is_valid_blurhash(value) and len(value) == 28
    assert image.getpixel((10, 10))  # the encoder closes what it is given; ours was a copy


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("LEHV6nWB2yk8pyo0adR*.7kCMdnj", True),  # the reference 4x3 example
        ("UEE^{Io#ELwd}toLj[oL5Zs.j?S40%R*Woj[", True),
        ("LEHV6nWB2yk8pyo0adR*.7kCMdn", False),  # one character short
        ("LEHV6nWB2yk8pyo0adR*.7kCMdn!", False),  # outside base83
        ("LEHV6 nWB2yk8pyo0adR*.7kCMdn", False),
        ("~" + "0" * 163, False),  # 9x9 components: more than we accept
        ("", False),
        (None, False),
        (42, False),
    ],
)
def test_remote_blurhash_validation(value: object, valid: bool) -> None:
    assert is_valid_blurhash(value) is valid


def test_process_image_runs_in_an_executor() -> None:
    data = encode(gradient(800, 600), "JPEG")

    async def scenario() -> tuple[int, int]:
        with ThreadPoolExecutor(max_workers=1) as executor:
            result = await process_image(data, executor=executor)
        default = await process_image(data)
        assert default.blurhash == result.blurhash
        return result.width, result.height

    assert asyncio.run(scenario()) == (800, 600)


def test_process_image_raises_rejections_to_the_caller() -> None:
    with pytest.raises(ImageRejected):
        asyncio.run(process_image(b"not an image"))


def test_pillow_bomb_range_is_rejected_even_when_warnings_are_errors() -> None:
    with pytest.raises(ImageRejected) as caught:
        process_image_sync(png_declaring(10_000, 10_000))  # 100 MP: Pillow warns, we refuse
    assert caught.value.reason == "too_many_pixels"
