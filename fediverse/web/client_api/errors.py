"""Mastodon's 404 for an id that names nothing the caller may see: ``{"error": "Record not found"}``, the
text of Rails' ``ActiveRecord::RecordNotFound``, which clients show as it is."""

from __future__ import annotations

from fediverse.core.errors import NotFound


class RecordNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Record not found")
