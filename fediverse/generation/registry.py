"""Build the configured generator from ``REVERIE_*`` settings.

REVERIE_GENERATOR                 procedural (default) | openai | diffusers
REVERIE_GENERATION_FORMAT         auto | jpeg | png      (procedural, diffusers)
REVERIE_GENERATION_TIMEOUT        seconds one generation may take (default 300; also the job timeout)
REVERIE_OPENAI_BASE_URL           e.g. https://api.openai.com or http://127.0.0.1:8080 (LocalAI, sd-server)
REVERIE_OPENAI_API_KEY            bearer token (optional for local servers)
REVERIE_OPENAI_MODEL              default gpt-image-1
REVERIE_OPENAI_SIZES              comma-separated WxH, default 1024x1024,1536x1024,1024x1536
REVERIE_OPENAI_QUALITY            passed through (low | medium | high | auto …)
REVERIE_OPENAI_RESPONSE_FORMAT    b64_json (default for non gpt-image models) or "none" to omit
REVERIE_DIFFUSERS_MODEL_DIR       a diffusers-format folder (model_index.json); required
REVERIE_DIFFUSERS_DEVICE          cpu (default) | cuda | cuda:N | mps
REVERIE_DIFFUSERS_STEPS           default steps (4)
REVERIE_DIFFUSERS_GUIDANCE        guidance scale (0.0, right for turbo/schnell models)
REVERIE_DIFFUSERS_MAX_SIDE        largest side offered (1024)
REVERIE_DIFFUSERS_MODEL_NAME      name shown in provenance (default: the folder name)
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .base import BackendConfigError, ImageGenerator
from .diffusers_backend import DiffusersGenerator, DiffusersSettings
from .encoding import OUTPUT_FORMATS
from .openai_backend import DEFAULT_SIZES, OpenAIImageGenerator, OpenAISettings
from .procedural import ProceduralGenerator

_DEVICE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")
_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")


def create_generator(
    name: str, options: Mapping[str, str], *, http_client: httpx.AsyncClient | None = None
) -> ImageGenerator:
    """The generator called ``name``; raises ``BackendConfigError`` naming the variable at fault."""
    factory = _FACTORIES.get(name.strip().lower())
    if factory is None:
        known = ", ".join(sorted(_FACTORIES))
        raise BackendConfigError("REVERIE_GENERATOR", f"unknown image generator {name!r}; known: {known}")
    return factory(options, http_client)


def known_generators() -> tuple[str, ...]:
    return tuple(sorted(_FACTORIES))


def _create_procedural(options: Mapping[str, str], _: httpx.AsyncClient | None) -> ImageGenerator:
    return ProceduralGenerator(output_format=_output_format(options, "auto"))  # type: ignore[arg-type]


def _create_openai(options: Mapping[str, str], client: httpx.AsyncClient | None) -> ImageGenerator:
    base_url = _required(options, "REVERIE_OPENAI_BASE_URL")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise BackendConfigError("REVERIE_OPENAI_BASE_URL", f"must be an http(s) URL, got {base_url!r}")
    response_format: str | None = options.get("REVERIE_OPENAI_RESPONSE_FORMAT", "").strip() or None
    if response_format == "none":
        response_format = ""
    elif response_format not in (None, "b64_json"):
        raise BackendConfigError("REVERIE_OPENAI_RESPONSE_FORMAT", "must be b64_json or none")
    settings = OpenAISettings(
        base_url=base_url.rstrip("/").removesuffix("/v1"),
        api_key=options.get("REVERIE_OPENAI_API_KEY", "").strip(),
        model=options.get("REVERIE_OPENAI_MODEL", "").strip() or "gpt-image-1",
        timeout=read_number(options, "REVERIE_GENERATION_TIMEOUT", 300.0, low=1.0, high=3600.0),
        sizes=_sizes(options.get("REVERIE_OPENAI_SIZES", "")) or DEFAULT_SIZES,
        response_format=response_format,
        quality=options.get("REVERIE_OPENAI_QUALITY", "").strip() or None,
    )
    return OpenAIImageGenerator(settings, client=client)


def _create_diffusers(options: Mapping[str, str], _: httpx.AsyncClient | None) -> ImageGenerator:
    if importlib.util.find_spec("diffusers") is None or importlib.util.find_spec("torch") is None:
        raise BackendConfigError(
            "REVERIE_GENERATOR", "the diffusers generator needs its extra: pip install 'reverie[diffusers]'"
        )
    model_dir = Path(_required(options, "REVERIE_DIFFUSERS_MODEL_DIR")).expanduser()
    if not (model_dir / "model_index.json").is_file():
        raise BackendConfigError(
            "REVERIE_DIFFUSERS_MODEL_DIR", f"{model_dir} is not a diffusers model folder (no model_index.json)"
        )
    device = options.get("REVERIE_DIFFUSERS_DEVICE", "cpu").strip().lower() or "cpu"
    if not _DEVICE.match(device):
        raise BackendConfigError("REVERIE_DIFFUSERS_DEVICE", f"must be cpu, cuda, cuda:N or mps, got {device!r}")
    max_side = int(read_number(options, "REVERIE_DIFFUSERS_MAX_SIDE", 1024, low=64, high=2048))
    if max_side % 8:
        raise BackendConfigError("REVERIE_DIFFUSERS_MAX_SIDE", "must be a multiple of 8")
    settings = DiffusersSettings(
        model_dir=model_dir,
        device=device,
        default_steps=int(read_number(options, "REVERIE_DIFFUSERS_STEPS", 4, low=1, high=50)),
        guidance_scale=read_number(options, "REVERIE_DIFFUSERS_GUIDANCE", 0.0, low=0.0, high=30.0),
        max_side=max_side,
        output_format=_output_format(options, "png"),
        model_name=options.get("REVERIE_DIFFUSERS_MODEL_NAME", "").strip() or None,
    )
    return DiffusersGenerator(settings)


def _required(options: Mapping[str, str], variable: str) -> str:
    value = options.get(variable, "").strip()
    if not value:
        raise BackendConfigError(variable, "is required for this image generator")
    return value


def read_number(options: Mapping[str, str], variable: str, default: float, *, low: float, high: float) -> float:
    """A number setting within ``low..high``, ``default`` when unset; ``BackendConfigError`` names it."""
    raw = options.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BackendConfigError(variable, f"must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise BackendConfigError(variable, f"must be between {low:g} and {high:g}, got {raw}")
    return value


def _output_format(options: Mapping[str, str], default: str) -> str:
    value = options.get("REVERIE_GENERATION_FORMAT", "").strip().lower() or default
    if value not in OUTPUT_FORMATS:
        raise BackendConfigError("REVERIE_GENERATION_FORMAT", f"must be one of {', '.join(OUTPUT_FORMATS)}")
    return value


def _sizes(raw: str) -> tuple[tuple[int, int], ...]:
    sizes = []
    for item in filter(None, (part.strip().lower() for part in raw.split(","))):
        match = _SIZE.match(item)
        if not match:
            raise BackendConfigError("REVERIE_OPENAI_SIZES", f"sizes look like 1024x1024, got {item!r}")
        width, height = int(match[1]), int(match[2])
        if not (64 <= width <= 4096 and 64 <= height <= 4096):
            raise BackendConfigError("REVERIE_OPENAI_SIZES", f"{item} is outside 64..4096 pixels")
        sizes.append((width, height))
    return tuple(sizes)


_FACTORIES: dict[str, Callable[[Mapping[str, str], httpx.AsyncClient | None], ImageGenerator]] = {
    "procedural": _create_procedural,
    "openai": _create_openai,
    "diffusers": _create_diffusers,
}
