"""Housekeeping tests use the studio's signed-in browser and app fixtures."""

from __future__ import annotations

from tests.fediverse.studio.conftest import ana, client_with, settings

__all__ = ["ana", "client_with", "settings"]
