"""Reverie, the application: web routes, CLI, generation, and the glue between protocol and storage."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reverie")
except PackageNotFoundError:  # running from a source checkout that was not installed
    __version__ = "0.1.0"
