"""Any OpenAI-compatible Images API: OpenAI itself, LocalAI, stable-diffusion.cpp's ``sd-server``…

``POST {base_url}/v1/images/generations`` with ``{"model", "prompt", "n", "size"}`` and image data back as
``data[].b64_json``. The API takes no seed, so images report ``seed=None``. Remote failures become
``GenerationError`` subclasses whose messages never contain the API key (nor any request header).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
from dataclasses import dataclass
from typing import Any

import httpx

from .base import (
    TRAINED_ALGORITHMIC_MEDIA,
    BackendUnavailableError,
    CancelToken,
    Capabilities,
    GeneratedImage,
    GenerationCancelled,
    GenerationError,
    GenerationRequest,
    InvalidRequestError,
    Progress,
    ProgressCallback,
    validate_request,
)

DEFAULT_SIZES = ((1024, 1024), (1536, 1024), (1024, 1536))
_MIME_BY_FORMAT = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_POLICY_CODES = ("content_policy_violation", "moderation_blocked", "safety")


@dataclass(frozen=True)
class OpenAISettings:
    base_url: str
    api_key: str = ""
    model: str = "gpt-image-1"
    timeout: float = 120.0
    sizes: tuple[tuple[int, int], ...] = DEFAULT_SIZES
    response_format: str | None = None  # None: "b64_json" except for gpt-image models, which always send it
    quality: str | None = None
    user_agent: str = "Reverie (+image generation)"


class RateLimitedError(BackendUnavailableError):
    def __init__(self, message: str, *, retry_after: float | None, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after


class OpenAIImageGenerator:
    """Remote generation over HTTP; cancellation aborts the request."""

    name = "openai"

    def __init__(self, settings: OpenAISettings, *, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._client = client
        self.capabilities = Capabilities(
            sizes=settings.sizes,
            max_side=max(max(size) for size in settings.sizes),
            max_pixels=max(w * h for w, h in settings.sizes),
            arbitrary_sizes=False,
            supports_cancel=True,
            supports_progress=True,
        )

    async def generate(
        self,
        request: GenerationRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedImage]:
        validate_request(request, self.capabilities)
        if cancel is not None:
            cancel.raise_if_cancelled()
        if progress is not None:
            progress(Progress(0, 1, "queued"))
        task = asyncio.ensure_future(self._post(request))
        loop = asyncio.get_running_loop()
        unregister = cancel.on_cancel(lambda: loop.call_soon_threadsafe(task.cancel)) if cancel else None
        try:
            payload = await task
        except asyncio.CancelledError:
            if cancel is not None and cancel.cancelled:
                raise GenerationCancelled() from None
            raise
        finally:
            if unregister is not None:
                unregister()
        images = self._read_images(payload, request)
        if progress is not None:
            progress(Progress(1, 1, "done"))
        return images

    async def _post(self, request: GenerationRequest) -> Any:
        settings = self.settings
        body: dict[str, Any] = {
            "model": settings.model,
            "prompt": request.prompt,
            "n": request.variants,
            "size": f"{request.width}x{request.height}",
        }
        response_format = settings.response_format
        if response_format is None and not settings.model.startswith("gpt-image"):
            response_format = "b64_json"
        if response_format:
            body["response_format"] = response_format
        if settings.quality:
            body["quality"] = settings.quality
        headers = {"User-Agent": settings.user_agent}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        url = settings.base_url.rstrip("/") + "/v1/images/generations"
        client = self._client or httpx.AsyncClient(timeout=httpx.Timeout(settings.timeout, connect=10.0))
        try:
            response = await client.post(url, json=body, headers=headers, timeout=settings.timeout)
        except httpx.TimeoutException as error:
            raise BackendUnavailableError(
                f"The image service did not answer within {settings.timeout:g} seconds.", detail=type(error).__name__
            ) from None
        except httpx.HTTPError as error:
            raise BackendUnavailableError(
                "Could not reach the image service.", detail=self._scrub(f"{type(error).__name__}: {error}")
            ) from None
        finally:
            if self._client is None:
                await client.aclose()
        if response.status_code >= 400:
            raise self._error_for(response)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BackendUnavailableError(
                "The image service sent an unreadable answer.", detail=self._scrub(response.text[:300])
            ) from None

    def _error_for(self, response: httpx.Response) -> GenerationError:
        status = response.status_code
        message, code = _error_fields(response)
        detail = self._scrub(f"HTTP {status}: {code or ''} {message or response.text[:300]}")
        if status in (401, 403):
            return BackendUnavailableError(
                f"The image service refused our credentials (HTTP {status}); the admin should check "
                "REVERIE_OPENAI_API_KEY.",
                detail=detail,
            )
        if status == 429:
            retry_after = _parse_retry_after(response.headers.get("retry-after"))
            wait = f" Try again in {retry_after:g} seconds." if retry_after else " Try again later."
            return RateLimitedError(
                "The image service is busy or over its quota." + wait, retry_after=retry_after, detail=detail
            )
        if status >= 500:
            return BackendUnavailableError(f"The image service failed (HTTP {status}); try again later.", detail=detail)
        haystack = f"{code or ''} {message or ''}".lower()
        if any(marker in haystack for marker in _POLICY_CODES):
            return InvalidRequestError("The image service refused this prompt under its content policy.", detail=detail)
        reason = self._scrub(message)[:200] if message else f"HTTP {status}"
        return InvalidRequestError(f"The image service rejected the request: {reason}", detail=detail)

    def _read_images(self, payload: Any, request: GenerationRequest) -> list[GeneratedImage]:
        items = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not items:
            raise BackendUnavailableError("The image service answered without any image.", detail=str(payload)[:300])
        images = []
        for item in items[: request.variants]:
            if not isinstance(item, dict) or not isinstance(item.get("b64_json"), str):
                raise BackendUnavailableError(
                    "The image service sent a link instead of image data; set REVERIE_OPENAI_RESPONSE_FORMAT=b64_json.",
                    detail=str(item)[:300],
                )
            data, mime, width, height = _decode_image(item["b64_json"])
            revised = item.get("revised_prompt")
            prompt_text = " ".join(request.prompt.split())
            images.append(
                GeneratedImage(
                    data=data,
                    mime=mime,
                    width=width,
                    height=height,
                    seed=None,
                    alt_text=_alt_text(prompt_text),
                    digital_source_type=TRAINED_ALGORITHMIC_MEDIA,
                    metadata={
                        "backend": self.name,
                        "model": self.settings.model,
                        "parameters": {
                            "size": f"{request.width}x{request.height}",
                            "n": request.variants,
                            "quality": self.settings.quality,
                            "reproducible": False,
                        },
                        "revised_prompt": revised if isinstance(revised, str) else None,
                        "usage": payload.get("usage"),
                    },
                )
            )
        return images

    def _scrub(self, text: str) -> str:
        key = self.settings.api_key
        return text.replace(key, "***") if key else text


def _error_fields(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        document = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, None
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict):
        message, code = error.get("message"), error.get("code") or error.get("type")
        return (message if isinstance(message, str) else None), (code if isinstance(code, str) else None)
    if isinstance(error, str):
        return error, None
    return None, None


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _decode_image(encoded: str) -> tuple[bytes, str, int, int]:
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BackendUnavailableError("The image service sent image data that is not valid base64.") from None
    from PIL import Image, UnidentifiedImageError  # loaded on first use (docs/decisions/0053)

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            image_format, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise BackendUnavailableError("The image service sent something that is not an image.") from None
    mime = _MIME_BY_FORMAT.get(image_format or "")
    if mime is None:
        raise BackendUnavailableError(f"The image service sent an unsupported image format ({image_format}).")
    return data, mime, width, height


def _alt_text(prompt: str) -> str:
    if len(prompt) > 300:
        prompt = prompt[:299].rstrip() + "…"
    return f"AI-generated image from the prompt: “{prompt}”"
