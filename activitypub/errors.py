"""Errors raised by the protocol layer.

Every error carries fields a caller can act on; ``str(error)`` is safe to show a remote peer,
``error.detail`` is for logs only.

    ActivityPubError
     +-- SignatureError             an incoming signature is missing, malformed, stale or wrong (HTTP 401)
     |    +-- MalformedSignatureError  a signature header cannot be parsed or lacks a required parameter
     |    +-- UnsupportedAlgorithmError the algorithm is not one we verify
     |    +-- InsufficientCoverageError the signature does not cover what we require (host, date, digest...)
     |    +-- SignatureExpiredError    the signature's Date/created is outside the accepted window
     |    +-- DigestError              a body digest header is missing or does not match the body
     |    +-- SignatureMismatchError   the signature does not verify with the signer's key
     |    +-- MisdirectedRequestError  the request (and so its signature) is for another host
     |    +-- KeyUnavailableError      the signer's key could not be fetched (in time); the sender may retry
     +-- InvalidDocumentError       an AS2 document lacks what the operation needs (HTTP 400)
     +-- FetchError                 a remote GET failed
     |    +-- UnsupportedURLError     the URL is not http(s) or has no host
     |    +-- UnsafeAddressError      the target resolves to a private, loopback or link-local address
     |    +-- TooManyRedirectsError   more redirects than allowed, or an https -> http downgrade
     |    +-- ResponseTooLargeError   the body exceeded the cap
     |    +-- ContentTypeError        the response was not of the expected content type
     |    +-- IdMismatchError         the fetched document's id is not where it came from
     |    +-- GoneError               the remote answered 410 (also raised by WebFinger lookups)
     +-- WebFingerError             a WebFinger lookup failed or pointed somewhere it should not
     |    +-- MalformedResourceError  a ``resource`` parameter we serve cannot be parsed (HTTP 400)
     |    +-- ForeignResourceError    a ``resource`` names another host (HTTP 404)
     +-- DeliveryError              one POST to an inbox failed (carries the classified outcome)

``DigestError`` is a ``SignatureError``: a body that does not match its signed digest is an
unauthenticated request, and the verifier promises to raise nothing but ``SignatureError``.
"""

from __future__ import annotations


class ActivityPubError(Exception):
    """Root of the protocol layer's errors."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail if detail is not None else message


class SignatureError(ActivityPubError):
    """An HTTP signature is missing, malformed, expired or does not verify."""


class MalformedSignatureError(SignatureError):
    """A ``Signature``/``Signature-Input`` header cannot be parsed or lacks a required parameter."""


class UnsupportedAlgorithmError(SignatureError):
    """The signature names an algorithm (or key type) we do not verify."""


class InsufficientCoverageError(SignatureError):
    """The signature is valid in form but does not cover the components we require."""


class SignatureExpiredError(SignatureError):
    """The signature's ``Date``/``created`` lies outside the accepted time window."""


class DigestError(SignatureError):
    """A ``Digest`` or ``Content-Digest`` header is missing or does not match the body."""


class SignatureMismatchError(SignatureError):
    """The signature does not verify with the signer's (possibly refreshed) key."""


class MisdirectedRequestError(SignatureError):
    """The request's ``Host`` (which every signature we accept covers) is not this server: a request
    signed for another server and replayed here."""


class KeyUnavailableError(SignatureError):
    """The key named by a signature could not be fetched; the sender may retry."""


class InvalidDocumentError(ActivityPubError):
    """An ActivityStreams document lacks what the operation needs."""


class FetchError(ActivityPubError):
    """A remote GET did not produce a usable document."""

    def __init__(self, message: str, *, url: str, status: int | None = None, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.url = url
        self.status = status


class UnsupportedURLError(FetchError):
    """The URL is not an absolute http(s) URL with a host."""


class UnsafeAddressError(FetchError):
    """The target host resolves to an address we refuse to contact (SSRF guard)."""


class TooManyRedirectsError(FetchError):
    """The remote redirected more often than allowed, or from https to http."""


class ResponseTooLargeError(FetchError):
    """The response body exceeded the configured cap."""


class ContentTypeError(FetchError):
    """The response was not served with the expected content type."""


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


class MalformedResourceError(WebFingerError):
    """A WebFinger ``resource`` we were asked about cannot be parsed."""


class ForeignResourceError(WebFingerError):
    """A WebFinger ``resource`` names an account on another host."""
