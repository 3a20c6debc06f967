"""The JSON API our own web UI calls (docs/api.md)."""
