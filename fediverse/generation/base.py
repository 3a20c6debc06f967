"""The one interface every image generator implements, and the values that cross it.

A backend takes a ``GenerationRequest`` and returns ``GeneratedImage`` values; it never touches storage or
the web layer. CPU work runs off the event loop; ``progress`` may be called from a worker thread, so
callers that need the loop must bridge (see ``progress_on_loop``).

    GenerationError                 root; ``str(error)`` is safe to show the person who asked
     +-- InvalidRequestError          the request breaks the backend's limits (user-facing message)
     +-- GenerationCancelled          the caller's ``CancelToken`` was set
     +-- BackendUnavailableError      the backend cannot run now (remote down, model missing, timeout)
     +-- BackendConfigError           a setting is missing or wrong; ``variable`` names it
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

IPTC_DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
ALGORITHMIC_MEDIA = IPTC_DIGITAL_SOURCE_TYPE + "algorithmicMedia"
TRAINED_ALGORITHMIC_MEDIA = IPTC_DIGITAL_SOURCE_TYPE + "trainedAlgorithmicMedia"

MAX_VARIANTS = 4  # Mastodon and Pixelfed render at most four attachments per post.
MAX_PROMPT_CHARS = 2000

Stage = Literal["queued", "loading", "encoding", "denoising", "painting", "decoding", "postprocess", "done"]


class GenerationError(Exception):
    """Root of the generation errors; the message is safe to show the user, ``detail`` is for logs."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail if detail is not None else message


class InvalidRequestError(GenerationError):
    """The request cannot be served by this backend (size, variants, prompt length…)."""


class GenerationCancelled(GenerationError):
    """The caller cancelled the job."""

    def __init__(self, message: str = "Generation was cancelled.") -> None:
        super().__init__(message)


class BackendUnavailableError(GenerationError):
    """The backend cannot serve the request now: remote failure, timeout, model missing."""


class BackendConfigError(GenerationError):
    """A backend setting is missing or invalid."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    negative_prompt: str = ""
    style: str | None = None
    seed: int | None = None  # None: the backend picks one and reports it (when it supports seeds)
    width: int = 1024
    height: int = 1024
    steps: int | None = None
    variants: int = 1
    remix_of: str | None = None  # AS2 id of the post this one remixes


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    stage: Stage


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    mime: str
    width: int
    height: int
    seed: int | None
    alt_text: str
    digital_source_type: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; ``to_dict`` is what the web UI renders."""

    sizes: tuple[tuple[int, int], ...]
    max_side: int
    max_pixels: int
    min_side: int = 64
    size_multiple: int = 8
    max_variants: int = MAX_VARIANTS
    supports_seed: bool = False
    supports_negative_prompt: bool = False
    supports_steps: bool = False
    max_steps: int = 0
    supports_styles: bool = False
    supports_cancel: bool = False
    supports_progress: bool = False
    styles: tuple[str, ...] = ()
    arbitrary_sizes: bool = True  # False: only the listed ``sizes`` are accepted

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sizes"] = [list(size) for size in self.sizes]
        data["styles"] = list(self.styles)
        return data


class CancelToken:
    """A thread-safe flag a caller sets to stop a running job at its next checkpoint.

    CPU backends poll it between steps; I/O backends register ``on_cancel`` callbacks (called once, from
    the thread that cancels) to abort an HTTP request at once.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], object]] = []

    def cancel(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Run ``callback`` when cancelled (at once if already cancelled); returns an unregister function."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return lambda: self._remove(callback)
        callback()
        return lambda: None

    def _remove(self, callback: Callable[[], object]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise GenerationCancelled()


ProgressCallback = Callable[[Progress], None]


@runtime_checkable
class ImageGenerator(Protocol):
    name: str
    capabilities: Capabilities

    async def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedImage]: ...


class BlockingGenerator:
    """Base for backends whose work blocks (numpy painting, torch): ``generate`` validates the request and
    runs ``generate_sync`` in a worker thread, so the event loop never waits on it."""

    capabilities: Capabilities

    async def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedImage]:
        validate_request(request, self.capabilities)
        return await asyncio.to_thread(self.generate_sync, request, progress=progress, cancel=cancel)

    def generate_sync(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedImage]:
        """The blocking body of ``generate``; call it from a worker thread (or a benchmark)."""
        raise NotImplementedError


def progress_on_loop(callback: ProgressCallback, loop: asyncio.AbstractEventLoop | None = None) -> ProgressCallback:
    """Wrap ``callback`` so that calls from any thread run on ``loop`` (the running loop by default)."""
    target = loop or asyncio.get_running_loop()

    def report(event: Progress) -> None:
        target.call_soon_threadsafe(callback, event)

    return report


def validate_request(request: GenerationRequest, capabilities: Capabilities) -> None:
    """Raise ``InvalidRequestError`` with a message a person can act on when the request breaks a limit."""
    if not request.prompt.strip():
        raise InvalidRequestError("Please describe the image you want: the prompt is empty.")
    if len(request.prompt) > MAX_PROMPT_CHARS or len(request.negative_prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequestError(f"Prompts are limited to {MAX_PROMPT_CHARS} characters.")
    if not 1 <= request.variants <= capabilities.max_variants:
        raise InvalidRequestError(f"You can ask for 1 to {capabilities.max_variants} images at a time.")
    _validate_size(request.width, request.height, capabilities)
    if request.seed is not None:
        if not capabilities.supports_seed:
            raise InvalidRequestError("This generator cannot reproduce a seed; leave the seed empty.")
        if not 0 <= request.seed < 2**32:
            raise InvalidRequestError("The seed must be a whole number from 0 to 4294967295.")
    if request.steps is not None:
        if not capabilities.supports_steps:
            raise InvalidRequestError("This generator has no step setting; leave steps empty.")
        if not 1 <= request.steps <= capabilities.max_steps:
            raise InvalidRequestError(f"Steps must be between 1 and {capabilities.max_steps}.")
    if request.negative_prompt.strip() and not capabilities.supports_negative_prompt:
        raise InvalidRequestError("This generator does not support a negative prompt.")
    if request.style not in (None, "", "none") and request.style not in capabilities.styles:
        known = ", ".join(capabilities.styles) or "none"
        raise InvalidRequestError(f"Unknown style {request.style!r}; choose one of: {known}.")


def _validate_size(width: int, height: int, capabilities: Capabilities) -> None:
    if not capabilities.arbitrary_sizes:
        if (width, height) not in capabilities.sizes:
            offered = ", ".join(f"{w}x{h}" for w, h in capabilities.sizes)
            raise InvalidRequestError(f"This generator offers these sizes only: {offered}.")
        return
    low, high = capabilities.min_side, capabilities.max_side
    if not (low <= width <= high and low <= height <= high):
        raise InvalidRequestError(f"Width and height must each be between {low} and {high} pixels.")
    if width * height > capabilities.max_pixels:
        megapixels = capabilities.max_pixels / 1_000_000
        raise InvalidRequestError(f"The image is too large: at most {megapixels:.1f} megapixels.")
    multiple = capabilities.size_multiple
    if width % multiple or height % multiple:
        raise InvalidRequestError(f"Width and height must be multiples of {multiple} pixels.")
