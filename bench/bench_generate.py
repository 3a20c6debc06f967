"""Benchmark the default generator and the imaging pipeline; prints small tables.

    python bench/bench_generate.py [--repeats N]

Single-threaded figures (one job at a time), as a worker thread runs them.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fediverse.generation.base import GenerationRequest
from fediverse.generation.procedural import ProceduralGenerator
from fediverse.imaging import process_image_sync

PROMPTS = (
    "sunset over the mountains and a calm lake",
    "starry night over a quiet city",
    "cozy cabin in the woods at night with fireflies",
    "misty mountains at sunrise, watercolor",
    "abstract swirl of gold and indigo",
    "birds over a lavender field",
    "synthwave grid",
    "cyberpunk city with neon lights in the rain, pixel art",
)
SIZES = ((256, 256), (512, 512), (768, 768), (1024, 1024), (1024, 1536))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(work: Callable[[], object], repeats: int) -> list[float]:
    work()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def bench_generation(repeats: int) -> None:
    painter = ProceduralGenerator()
    print("Procedural generator (default backend), one image per call, encode included")
    print(f"{'size':>10} {'images/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for width, height in SIZES:
        samples: list[float] = []
        for index, prompt in enumerate(PROMPTS):
            request = GenerationRequest(prompt=prompt, seed=index, width=width, height=height)
            samples += timed(lambda request=request: painter.generate_sync(request), repeats)
        rate = 1000 / statistics.mean(samples)
        print(
            f"{width}x{height:<5} {rate:9.1f} {percentile(samples, 0.5):8.0f} {percentile(samples, 0.95):8.0f} "
            f"{max(samples):8.0f}"
        )


def photo_like(width: int, height: int) -> Image.Image:
    """A smooth colour field plus sensor-like noise, the kind of image a camera gives."""
    rng = np.random.default_rng(0)
    xs = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    ys = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    base = np.stack([120 + 80 * xs + 0 * ys, 90 + 100 * ys + 0 * xs, 160 - 60 * xs * ys], axis=-1)
    noisy = base + rng.normal(0, 6, base.shape).astype(np.float32)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), mode="RGB")


def encoded(image: Image.Image, image_format: str, **params: object) -> bytes:
    output = io.BytesIO()
    image.save(output, image_format, **params)
    return output.getvalue()


def bench_imaging(repeats: int) -> None:
    photo = encoded(photo_like(4032, 3024), "JPEG", quality=92)
    painter = ProceduralGenerator(output_format="png")
    generated = painter.generate_sync(GenerationRequest(prompt="sunset over a calm lake", seed=1))[0].data
    generated_jpeg = ProceduralGenerator().generate_sync(GenerationRequest(prompt="sunset over a calm lake", seed=1))[0]
    cases = (
        ("12 MP JPEG upload (draft decode)", photo, False),
        ("1024² generated PNG, kept", generated, True),
        ("1024² generated PNG, re-encoded", generated, False),
        ("1024² generated JPEG, kept", generated_jpeg.data, True),
    )
    print("\nImaging pipeline: decode + orient + strip + cap 2048 + display 1280 JPEG + 400 px WebP thumb + blurhash")
    print(f"{'input':<34} {'in KiB':>7} {'p50 ms':>7} {'p95 ms':>7}  outputs")
    for name, data, keep in cases:
        samples = timed(lambda data=data, keep=keep: process_image_sync(data, keep_original=keep), repeats)
        result = process_image_sync(data, keep_original=keep)
        outputs = (
            f"original {result.original.mime.split('/')[1]} {result.width}x{result.height} "
            f"{len(result.original.data) // 1024} KiB, display {len(result.display.data) // 1024} KiB, "
            f"thumb {len(result.thumbnail.data) // 1024} KiB"
        )
        print(
            f"{name:<34} {len(data) // 1024:7} {percentile(samples, 0.5):7.1f} {percentile(samples, 0.95):7.1f}  "
            f"{outputs}"
        )


def bench_formats(repeats: int) -> None:
    generated = Image.open(
        io.BytesIO(ProceduralGenerator().generate_sync(GenerationRequest(prompt="a calm lake at dusk", seed=2))[0].data)
    ).convert("RGB")
    photo = photo_like(2048, 1536)
    candidates = (
        ("JPEG q90", "JPEG", {"quality": 90}),
        ("JPEG q85", "JPEG", {"quality": 85}),
        ("PNG level 6", "PNG", {"compress_level": 6}),
        ("PNG level 1", "PNG", {"compress_level": 1}),
        ("WebP q85 method 2", "WEBP", {"quality": 85, "method": 2}),
        ("WebP q80 method 0", "WEBP", {"quality": 80, "method": 0}),
    )
    print("\nEncoders (format choice): p50 ms / KiB")
    print(f"{'format':<20} {'1024² generated':>18} {'2048x1536 photo':>18} {'1280 display':>15} {'400 thumb':>12}")
    display, thumb = photo.resize((1280, 960)), photo.resize((400, 300))
    for label, image_format, params in candidates:
        cells = []
        for image in (generated, photo, display, thumb):
            samples = timed(lambda i=image, f=image_format, p=params: encoded(i, f, **p), repeats)
            size = len(encoded(image, image_format, **params)) // 1024
            cells.append(f"{percentile(samples, 0.5):.1f} / {size}")
        print(f"{label:<20} {cells[0]:>18} {cells[1]:>18} {cells[2]:>15} {cells[3]:>12}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    bench_generation(arguments.repeats)
    bench_imaging(max(5, arguments.repeats))
    bench_formats(arguments.repeats)


if __name__ == "__main__":
    main()
