"""Reverie, the application: web routes, CLI, generation, and the glue between protocol and storage."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version

# httpx imports its command-line client, and with it rich, pygments and click, whenever those happen to be
# installed (the diffusers extra brings rich): ~4 MiB in every process for a tool Reverie never runs. An
# entry of None makes that import fail, and httpx then leaves its CLI out (docs/decisions/0053).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

try:
    __version__ = version("reverie")
except PackageNotFoundError:  # running from a source checkout that was not installed
    __version__ = "0.1.0"
