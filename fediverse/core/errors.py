"""Errors of the application layer, each with the HTTP status it maps to.

    ReverieError                 (500)
     +-- BadRequest              (400) the request is malformed; message is safe to show
     |    +-- InvalidUsername
     +-- Unauthorized            (401)
     +-- Forbidden               (403)
     +-- NotFound                (404)
     +-- Gone                    (410)
     +-- Conflict                (409) e.g. a username that is taken
     +-- PayloadTooLarge         (413)
     +-- UnsupportedMediaType    (415)
     +-- TooManyRequests         (429) carries retry_after seconds
     +-- ServiceUnavailable      (503) carries retry_after seconds (e.g. the database is busy)

``fediverse.web.app`` holds the one table that turns these (and ``activitypub`` errors) into responses.
"""

from __future__ import annotations


class ReverieError(Exception):
    status_code = 500

    def __init__(self, message: str = "", *, detail: str | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or "error")
        self.detail = detail if detail is not None else str(self)


class BadRequest(ReverieError):
    """The request is malformed."""

    status_code = 400


class InvalidUsername(BadRequest):
    """Usernames are 1–30 characters of lowercase letters, digits and underscores."""


class Unauthorized(ReverieError):
    """Authentication is required."""

    status_code = 401


class Forbidden(ReverieError):
    """You may not do this."""

    status_code = 403


class NotFound(ReverieError):
    """Not found."""

    status_code = 404


class Gone(ReverieError):
    """This has been deleted."""

    status_code = 410


class Conflict(ReverieError):
    """This conflicts with something that exists."""

    status_code = 409


class UnprocessableEntity(ReverieError):
    """The request is well-formed but its content is refused (the client API's validation errors)."""

    status_code = 422


class PayloadTooLarge(ReverieError):
    """The request body is too large."""

    status_code = 413


class UnsupportedMediaType(ReverieError):
    """Unsupported content type."""

    status_code = 415


class TooManyRequests(ReverieError):
    """Too many requests; try again later."""

    status_code = 429

    def __init__(self, message: str = "", *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(ReverieError):
    """The server is busy; try again shortly."""

    status_code = 503

    def __init__(self, message: str = "", *, retry_after: int = 5, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after
