"""Image generation: one async interface (``ImageGenerator``), its backends and provenance helpers.

Request in, image out: nothing here touches storage or the web layer.
"""

from __future__ import annotations

from .base import (
    ALGORITHMIC_MEDIA,
    TRAINED_ALGORITHMIC_MEDIA,
    BackendConfigError,
    BackendUnavailableError,
    CancelToken,
    Capabilities,
    GeneratedImage,
    GenerationCancelled,
    GenerationError,
    GenerationRequest,
    ImageGenerator,
    InvalidRequestError,
    Progress,
    progress_on_loop,
    validate_request,
)
from .registry import create_generator, known_generators

__all__ = [
    "ALGORITHMIC_MEDIA",
    "TRAINED_ALGORITHMIC_MEDIA",
    "BackendConfigError",
    "BackendUnavailableError",
    "CancelToken",
    "Capabilities",
    "GeneratedImage",
    "GenerationCancelled",
    "GenerationError",
    "GenerationRequest",
    "ImageGenerator",
    "InvalidRequestError",
    "Progress",
    "create_generator",
    "known_generators",
    "progress_on_loop",
    "validate_request",
]
