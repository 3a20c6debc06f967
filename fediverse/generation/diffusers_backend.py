"""Stable-Diffusion-family pipelines (SD-Turbo, SDXL-Turbo, FLUX.1-schnell…) through ``diffusers`` (extra
``[diffusers]``), loaded only from a local folder the admin filled: never from a hub.

The pipeline loads lazily on the first job and stays loaded. One lock serialises loading and every run:
pipelines are not thread-safe and torch already uses every core. Progress comes from
``callback_on_step_end``; cancelling raises from that callback, which skips the VAE decode too.
"""

from __future__ import annotations

import inspect
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import (
    TRAINED_ALGORITHMIC_MEDIA,
    BackendUnavailableError,
    BlockingGenerator,
    CancelToken,
    Capabilities,
    GeneratedImage,
    GenerationCancelled,
    GenerationRequest,
    InvalidRequestError,
    Progress,
    ProgressCallback,
    validate_request,
)
from .encoding import encode_output


@dataclass(frozen=True)
class DiffusersSettings:
    model_dir: Path
    device: str = "cpu"  # "cpu", "cuda", "cuda:N" or "mps"
    default_steps: int = 4  # turbo/schnell models need 1-4
    max_steps: int = 50
    guidance_scale: float = 0.0  # 0 for turbo/schnell; 5-8 for classic SD checkpoints
    max_side: int = 1024
    output_format: str = "png"
    model_name: str | None = None  # shown in provenance; defaults to the folder name

    @property
    def display_name(self) -> str:
        return self.model_name or self.model_dir.name


class _Cancelled(Exception):
    """Raised inside the step callback to stop a pipeline mid-run."""


class DiffusersGenerator(BlockingGenerator):
    name = "diffusers"

    def __init__(self, settings: DiffusersSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._pipeline: Any = None
        self._accepts_negative = True
        side = settings.max_side
        self.capabilities = Capabilities(
            sizes=tuple((s, s) for s in (512, 768, 1024) if s <= side) or ((side, side),),
            max_side=side,
            max_pixels=side * side,
            min_side=64,
            size_multiple=8,
            supports_seed=True,
            supports_negative_prompt=True,
            supports_steps=True,
            max_steps=settings.max_steps,
            supports_cancel=True,
            supports_progress=True,
        )

    @property
    def loaded(self) -> bool:
        return self._pipeline is not None

    def generate_sync(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedImage]:
        validate_request(request, self.capabilities)
        with self._lock:
            if cancel is not None:
                cancel.raise_if_cancelled()
            pipeline = self._load(progress)
            if request.negative_prompt.strip() and not self._accepts_negative:
                raise InvalidRequestError("This model does not support a negative prompt.")
            return self._run(pipeline, request, progress, cancel)

    def _load(self, progress: ProgressCallback | None) -> Any:
        if self._pipeline is not None:
            return self._pipeline
        if progress is not None:
            progress(Progress(0, 1, "loading"))
        # Imported here, not at module level: torch takes seconds to import, and the hub must be switched
        # off in the environment before huggingface_hub reads its constants.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        import torch
        from diffusers import AutoPipelineForText2Image

        settings = self.settings
        dtype = torch.float16 if settings.device.startswith("cuda") else torch.float32
        try:
            pipeline = AutoPipelineForText2Image.from_pretrained(
                str(settings.model_dir), local_files_only=True, dtype=dtype
            )
            pipeline = pipeline.to(settings.device)
        except (OSError, ValueError, RuntimeError, KeyError) as error:
            raise BackendUnavailableError(
                f"Could not load the image model from {settings.model_dir}.", detail=f"{type(error).__name__}: {error}"
            ) from error
        pipeline.set_progress_bar_config(disable=True)
        self._accepts_negative = "negative_prompt" in inspect.signature(pipeline.__call__).parameters
        self._pipeline = pipeline
        return pipeline

    def _run(
        self,
        pipeline: Any,
        request: GenerationRequest,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> list[GeneratedImage]:
        import torch

        steps = request.steps or self.settings.default_steps
        base_seed = request.seed if request.seed is not None else secrets.randbelow(2**32)
        total = steps * request.variants
        images = []
        for variant in range(request.variants):
            seed = (base_seed + variant) % 2**32
            done_before = variant * steps

            def on_step_end(
                pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any], offset: int = done_before
            ) -> Any:
                if cancel is not None and cancel.cancelled:
                    raise _Cancelled()
                if progress is not None:
                    progress(Progress(offset + step + 1, total, "denoising"))
                return kwargs

            arguments: dict[str, Any] = {
                "prompt": request.prompt,
                "num_inference_steps": steps,
                "guidance_scale": self.settings.guidance_scale,
                "width": request.width,
                "height": request.height,
                "generator": torch.Generator(device="cpu").manual_seed(seed),
                "callback_on_step_end": on_step_end,
                "output_type": "pil",
            }
            if request.negative_prompt.strip():
                arguments["negative_prompt"] = request.negative_prompt
            try:
                with torch.inference_mode():
                    result = pipeline(**arguments)
            except _Cancelled:
                raise GenerationCancelled() from None
            except (RuntimeError, ValueError) as error:
                raise BackendUnavailableError(
                    "The image model failed while generating.", detail=f"{type(error).__name__}: {error}"
                ) from error
            image = result.images[0]
            data, mime = encode_output(image, self.settings.output_format)
            images.append(self._describe(data, mime, image.width, image.height, seed, steps, request))
        if progress is not None:
            progress(Progress(total, total, "postprocess"))
        return images

    def _describe(
        self, data: bytes, mime: str, width: int, height: int, seed: int, steps: int, request: GenerationRequest
    ) -> GeneratedImage:
        import diffusers
        import torch

        pipeline = self._pipeline
        prompt = " ".join(request.prompt.split())
        if len(prompt) > 300:
            prompt = prompt[:299].rstrip() + "…"
        return GeneratedImage(
            data=data,
            mime=mime,
            width=width,
            height=height,
            seed=seed,
            alt_text=f"AI-generated image from the prompt: “{prompt}”",
            digital_source_type=TRAINED_ALGORITHMIC_MEDIA,
            metadata={
                "backend": self.name,
                "model": self.settings.display_name,
                "pipeline": type(pipeline).__name__,
                "parameters": {
                    "steps": steps,
                    "guidance_scale": self.settings.guidance_scale,
                    "width": width,
                    "height": height,
                    "negative_prompt": request.negative_prompt,
                    "scheduler": type(pipeline.scheduler).__name__,
                    "device": self.settings.device,
                },
                "versions": {"diffusers": diffusers.__version__, "torch": torch.__version__},
            },
        )
