"""The default backend: an offline, deterministic "mood painter" (numpy + Pillow, no model weights).

The painting modules, and with them numpy and Pillow, load on the first generation: an idle server
that only names this backend does not hold them (docs/decisions/0053)."""

from __future__ import annotations

import secrets

from ..base import (
    ALGORITHMIC_MEDIA,
    BlockingGenerator,
    CancelToken,
    Capabilities,
    GeneratedImage,
    GenerationRequest,
    Progress,
    ProgressCallback,
    validate_request,
)
from ..encoding import OutputFormat, encode_output
from .lexicon import STYLE_NAMES
from .recipe import build_recipe

GENERATOR_NAME = "procedural"
GENERATOR_VERSION = "1.0"
MODEL_NAME = "procedural mood painter"
_LOSSLESS_STYLES = ("pixel", "poster")  # flat colours: PNG is small and JPEG would smear the edges


class ProceduralGenerator(BlockingGenerator):
    """Paints from the prompt's words; same prompt + seed + version gives the same pixels."""

    name = GENERATOR_NAME

    def __init__(self, *, output_format: OutputFormat = "auto", jpeg_quality: int = 92) -> None:
        self.output_format = output_format
        self.jpeg_quality = jpeg_quality
        self.capabilities = Capabilities(
            sizes=((512, 512), (768, 768), (1024, 1024), (1024, 1536), (1536, 1024)),
            max_side=2048,
            max_pixels=2048 * 2048,
            min_side=64,
            size_multiple=8,
            supports_seed=True,
            supports_negative_prompt=True,
            supports_styles=True,
            supports_cancel=True,
            supports_progress=True,
            styles=STYLE_NAMES,
        )

    def generate_sync(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedImage]:
        """The blocking body of ``generate``; call it from a worker thread (or a benchmark)."""
        import numpy as np

        from fediverse.generation.procedural.painter import describe, paint

        validate_request(request, self.capabilities)
        recipe = build_recipe(request.prompt, negative_prompt=request.negative_prompt, style=request.style)
        base_seed = request.seed if request.seed is not None else secrets.randbelow(2**32)
        images = []
        for variant in range(request.variants):
            seed = (base_seed + variant) % 2**32
            report = _variant_progress(progress, variant, request.variants)
            image, scene = paint(recipe, request.width, request.height, seed, progress=report, cancel=cancel)
            lossless = recipe.style in _LOSSLESS_STYLES
            data, mime = encode_output(image, self.output_format, quality=self.jpeg_quality, lossless=lossless)
            parameters = {
                "width": request.width,
                "height": request.height,
                "style": recipe.style,
                "negative_prompt": request.negative_prompt,
                "variant": variant,
            }
            images.append(
                GeneratedImage(
                    data=data,
                    mime=mime,
                    width=request.width,
                    height=request.height,
                    seed=seed,
                    alt_text=describe(recipe, scene.drawn),
                    digital_source_type=ALGORITHMIC_MEDIA,
                    metadata={
                        "backend": GENERATOR_NAME,
                        "model": MODEL_NAME,
                        "version": GENERATOR_VERSION,
                        "numpy": np.__version__,
                        "parameters": parameters,
                        "recipe": recipe.to_dict(),
                        "drawn": list(scene.drawn),
                    },
                )
            )
        return images


def _variant_progress(progress: ProgressCallback | None, variant: int, variants: int) -> ProgressCallback | None:
    """Report one variant's layers as a share of the whole job, so a progress bar only moves forward."""
    if progress is None or variants == 1:
        return progress

    def report(event: Progress) -> None:
        progress(Progress(variant * event.total + event.step, variants * event.total, event.stage))

    return report
