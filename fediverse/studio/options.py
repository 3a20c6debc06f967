"""The studio's settings, read once per process from ``REVERIE_*`` variables (``Settings.extra``).

REVERIE_GENERATION_TIMEOUT        seconds a job may run before it fails (default 300)
REVERIE_GENERATION_CONCURRENCY    jobs one worker process runs at once (default 2)
REVERIE_GENERATION_QUEUE_LIMIT    queued or running jobs one account may have (default 4)
REVERIE_AI_TAG                    hashtag added to posts with generated images (default AIArt; empty: none)
REVERIE_C2PA                      true: sign generated images with a per-instance C2PA key (extra [c2pa])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from fediverse.core.config import ConfigError
from fediverse.generation import BackendConfigError
from fediverse.generation.registry import read_number

_TAG = re.compile(r"\w{1,100}")


@dataclass(frozen=True)
class StudioOptions:
    timeout: float = 300.0
    concurrency: int = 2
    queue_limit: int = 4
    ai_tag: str = "AIArt"
    c2pa: bool = False
    max_drafts: int = 100  # unpublished images one account may keep


def read_studio_options(extra: Mapping[str, str]) -> StudioOptions:
    """``StudioOptions`` from the variables; ``ConfigError`` names the one at fault."""
    ai_tag = extra.get("REVERIE_AI_TAG", "AIArt").strip().lstrip("#")
    if ai_tag and not _TAG.fullmatch(ai_tag):
        raise ConfigError("REVERIE_AI_TAG", f"must be a hashtag of letters, digits and underscores, got {ai_tag!r}")
    try:
        return StudioOptions(
            timeout=read_number(extra, "REVERIE_GENERATION_TIMEOUT", 300, low=1, high=3600),
            concurrency=int(read_number(extra, "REVERIE_GENERATION_CONCURRENCY", 2, low=1, high=64)),
            queue_limit=int(read_number(extra, "REVERIE_GENERATION_QUEUE_LIMIT", 4, low=1, high=1000)),
            ai_tag=ai_tag,
            c2pa=_flag(extra, "REVERIE_C2PA"),
        )
    except BackendConfigError as error:
        raise as_config_error(error) from error


def as_config_error(error: BackendConfigError) -> ConfigError:
    """The application's configuration error for a generation setting (the CLI reports these cleanly)."""
    return ConfigError(error.variable, str(error).removeprefix(f"{error.variable}: "))


def _flag(extra: Mapping[str, str], variable: str) -> bool:
    raw = extra.get(variable, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(variable, f"must be true or false, got {raw!r}")
