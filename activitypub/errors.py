"""Errors raised by the protocol layer.

Every error carries fields a caller can act on; ``str(error)`` is safe to show a remote peer,
``error.detail`` is for logs only.

    ActivityPubError
     +-- SignatureError          an incoming signature is missing, malformed, stale or wrong (HTTP 401)
     |    +-- KeyUnavailableError  the signer's key could not be fetched (HTTP 503, retry later)
     +-- DigestError              a body digest header is missing or does not match the body (HTTP 401)
     +-- InvalidDocumentError     an AS2 document lacks what the operation needs (HTTP 400)
     +-- FetchError               a remote GET failed
     |    +-- UnsafeAddressError    the target resolves to a private, loopback or link-local address
     |    +-- ResponseTooLargeError the body exceeded the cap
     |    +-- ContentTypeError      the response was not an ActivityStreams document
     |    +-- IdMismatchError       the fetched document's id is not where it came from
     |    +-- GoneError             the remote answered 410
     +-- WebFingerError           a WebFinger lookup failed or pointed somewhere it should not
     +-- DeliveryError            one POST to an inbox failed (carries the classified outcome)
"""

from __future__ import annotations


class ActivityPubError(Exception):
    """Root of the protocol layer's errors."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail if detail is not None else message


class SignatureError(ActivityPubError):
    """An HTTP signature is missing, malformed, expired or does not verify."""


class KeyUnavailableError(SignatureError):
    """The key named by a signature could not be fetched; the sender may retry."""


class DigestError(ActivityPubError):
    """A ``Digest`` or ``Content-Digest`` header is missing or does not match the body."""


class InvalidDocumentError(ActivityPubError):
    """An ActivityStreams document lacks what the operation needs."""


class FetchError(ActivityPubError):
    """A remote GET did not produce a usable document."""

    def __init__(self, message: str, *, url: str, status: int | None = None, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.url = url
        self.status = status


class UnsafeAddressError(FetchError):
    """The target host resolves to an address we refuse to contact (SSRF guard)."""


class ResponseTooLargeError(FetchError):
    """The response body exceeded the configured cap."""


class ContentTypeError(FetchError):
    """The response was not served with an ActivityStreams content type."""


class IdMismatchError(FetchError):
    """The fetched document's ``id`` does not match the URL it was fetched from."""


class GoneError(FetchError):
    """The remote answered 410 Gone: the object or actor was deleted."""


class WebFingerError(ActivityPubError):
    """A WebFinger lookup failed or its answer is not trustworthy."""

    def __init__(self, message: str, *, resource: str, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.resource = resource


class DeliveryError(ActivityPubError):
    """One POST to an inbox failed."""

    def __init__(
        self,
        message: str,
        *,
        inbox_url: str,
        status: int | None = None,
        body_excerpt: str = "",
        detail: str | None = None,
    ) -> None:
        super().__init__(message, detail=detail)
        self.inbox_url = inbox_url
        self.status = status
        self.body_excerpt = body_excerpt
