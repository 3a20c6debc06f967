"""HTTP Message Signatures (RFC 9421) for requests: signing, and verification with Mastodon's rules.

Mastodon (4.5+) and Fedify accept RFC 9421 inbound; Fedify "double-knocks" with it first. What we
require, after Mastodon (app/lib/signed_request.rb): exactly one signature; ``keyid`` and
``created`` parameters; ``@method`` and the target covered (``@target-uri``, or ``@authority``
with ``@path``/``@request-target``); a request with a body covers ``content-digest``, checked
against the raw body (RFC 9530). Algorithms: ``rsa-v1_5-sha256`` and ``ed25519``; without ``alg``
the key's type decides. The time window is Mastodon's (see ``TimeWindow``), not Fedify's ±1 min.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from activitypub.digests import compute_content_digest, verify_content_digest
from activitypub.errors import (
    InsufficientCoverageError,
    MalformedSignatureError,
    UnsupportedAlgorithmError,
)
from activitypub.keys import PrivateKey, PublicKey
from activitypub.signature_common import (
    KeyResolver,
    TimeWindow,
    VerifiedSignature,
    check_time_window,
    lower_headers,
    resolve_and_verify,
    timestamp_to_datetime,
    utc_now,
    verify_signature_bytes,
)
from activitypub.structured_fields import (
    InnerList,
    Item,
    Parameters,
    StructuredFieldError,
    Token,
    parse_dictionary,
    serialize_dictionary,
    serialize_inner_list,
    serialize_item,
)

SUPPORTED_ALGORITHMS = frozenset({"rsa-v1_5-sha256", "ed25519"})
_BODYLESS_METHODS = frozenset({"GET", "HEAD"})
_MAX_HEADER_LENGTH = 8192
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class MessageSignature:
    """One parsed RFC 9421 signature: its label, covered components, parameters and bytes."""

    label: str
    covered: InnerList
    signature: bytes

    @property
    def params(self) -> Parameters:
        return self.covered.params


@dataclass(frozen=True)
class RequestComponents:
    """What RFC 9421 derived components are computed from (§2.2)."""

    method: str
    scheme: str
    authority: str
    target: str


def parse_signature_input(value: str) -> dict[str, InnerList]:
    """Parse a ``Signature-Input`` field (RFC 9421 §4.1): a Dictionary of Inner Lists of Strings.

    Raises ``MalformedSignatureError`` on any malformed input, and nothing else.
    """
    if not isinstance(value, str) or len(value) > _MAX_HEADER_LENGTH:
        raise MalformedSignatureError("Signature-Input missing or too long")
    try:
        members = parse_dictionary(value)
    except StructuredFieldError as error:
        raise MalformedSignatureError("Signature-Input is not a valid structured field", detail=str(error)) from error
    result: dict[str, InnerList] = {}
    for label, member in members.items():
        if not isinstance(member, InnerList):
            raise MalformedSignatureError("Signature-Input member is not an inner list")
        for item in member.items:
            if isinstance(item.value, Token) or not isinstance(item.value, str):
                raise MalformedSignatureError("covered component is not a string")
        result[label] = member
    return result


def parse_message_signature(signature_input: str, signature: str) -> MessageSignature:
    """Parse ``Signature-Input`` and ``Signature`` (RFC 9421 §4.1, §4.2), requiring exactly one signature.

    Raises ``MalformedSignatureError`` on malformed or mismatched fields, and nothing else.
    """
    inputs = parse_signature_input(signature_input)
    if not isinstance(signature, str) or len(signature) > _MAX_HEADER_LENGTH:
        raise MalformedSignatureError("Signature missing or too long")
    try:
        signatures = parse_dictionary(signature)
    except StructuredFieldError as error:
        raise MalformedSignatureError("Signature is not a valid structured field", detail=str(error)) from error
    if len(inputs) != 1 or set(inputs) != set(signatures):
        raise MalformedSignatureError("expected exactly one signature with matching labels")
    (label,) = inputs
    value = signatures[label]
    if not isinstance(value, Item) or not isinstance(value.value, bytes) or not value.value:
        raise MalformedSignatureError("Signature member is not a byte sequence")
    return MessageSignature(label=label, covered=inputs[label], signature=value.value)


def _normalize_authority(scheme: str, authority: str) -> str:
    host, sep, port = authority.strip().lower().rpartition(":")
    if sep and "]" not in port and port.isdigit() and int(port) == _DEFAULT_PORTS.get(scheme.lower()):
        return host
    return authority.strip().lower()


def _resolve_component(item: Item, request: RequestComponents, headers: Mapping[str, str]) -> str:
    name = item.value
    assert isinstance(name, str)
    if item.params:
        raise MalformedSignatureError(f"unsupported parameters on component {name!r}")
    path, _, query = request.target.partition("?")
    value: str
    if name == "@method":
        value = request.method.upper()
    elif name == "@target-uri":
        value = f"{request.scheme.lower()}://{_normalize_authority(request.scheme, request.authority)}{request.target}"
    elif name == "@authority":
        value = _normalize_authority(request.scheme, request.authority)
    elif name == "@scheme":
        value = request.scheme.lower()
    elif name == "@request-target":
        value = request.target
    elif name == "@path":
        value = path or "/"
    elif name == "@query":
        value = "?" + query
    elif name.startswith("@"):
        raise MalformedSignatureError(f"unsupported derived component {name!r}")
    elif name != name.lower() or name not in headers:
        raise InsufficientCoverageError(f"covered field {name!r} is missing from the request")
    else:
        value = headers[name].strip(" \t")
    if "\n" in value or "\r" in value:
        raise MalformedSignatureError("component value contains a newline")
    return value


def build_signature_base(request: RequestComponents, headers: Mapping[str, str], covered: InnerList) -> bytes:
    """The signature base (RFC 9421 §2.5) for the covered components and their parameters.

    ``headers`` must be keyed by lowercase name. Raises ``SignatureError`` subclasses.
    """
    lines = []
    seen = set()
    for item in covered.items:
        identifier = serialize_item(item)
        if identifier in seen:
            raise MalformedSignatureError("component covered twice")
        seen.add(identifier)
        lines.append(f"{identifier}: {_resolve_component(item, request, headers)}")
    lines.append(f'"@signature-params": {serialize_inner_list(covered)}')
    return "\n".join(lines).encode("utf-8", errors="surrogatepass")


def _request_components(method: str, url: str) -> tuple[RequestComponents, str]:
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme.lower() not in _DEFAULT_PORTS:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS[parts.scheme.lower()]:
        host = f"{host}:{parts.port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return RequestComponents(method=method.upper(), scheme=parts.scheme.lower(), authority=host, target=target), host


def sign_message(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None = None,
    *,
    key_id: str,
    private_key: PrivateKey,
    created: datetime | None = None,
    expires: datetime | None = None,
    label: str = "sig1",
    components: Sequence[str] | None = None,
) -> dict[str, str]:
    """Sign a request with RFC 9421 (§3.1); return the headers to add.

    Adds ``Content-Digest`` (RFC 9530) when there is a body or the method is not GET/HEAD.
    Default coverage (Fedify's): ``@method @target-uri @authority``, then ``content-type``,
    ``content-digest`` and ``date`` when present. Algorithm from the key: ``rsa-v1_5-sha256`` or
    ``ed25519``, named in ``alg``.
    """
    request, host = _request_components(method, url)
    lowered = lower_headers(headers)
    lowered.setdefault("host", host)
    added: dict[str, str] = {}
    if body is not None and (body or request.method not in _BODYLESS_METHODS):
        added["Content-Digest"] = compute_content_digest(body)
        lowered["content-digest"] = added["Content-Digest"]
    if components is None:
        components = ["@method", "@target-uri", "@authority"]
        components += [name for name in ("content-type", "content-digest", "date") if name in lowered]
    algorithm = "rsa-v1_5-sha256" if isinstance(private_key, rsa.RSAPrivateKey) else "ed25519"
    params: Parameters = {"created": int((created or utc_now()).timestamp()), "keyid": key_id, "alg": algorithm}
    if expires is not None:
        params["expires"] = int(expires.timestamp())
    covered = InnerList(tuple(Item(name) for name in components), params)
    base = build_signature_base(request, lowered, covered)
    if isinstance(private_key, rsa.RSAPrivateKey):
        raw = private_key.sign(base, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(private_key, ed25519.Ed25519PrivateKey):
        raw = private_key.sign(base)
    else:  # pragma: no cover - PrivateKey is a closed union
        raise TypeError("unsupported private key")
    added["Signature-Input"] = serialize_dictionary({label: covered})
    added["Signature"] = serialize_dictionary({label: Item(raw)})
    return added


def _int_param(params: Parameters, name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedSignatureError(f"{name} parameter is not an integer")
    return value


async def verify_message_signature(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    resolve_key: KeyResolver,
    scheme: str = "https",
    now: datetime | None = None,
    window: TimeWindow | None = None,
) -> VerifiedSignature:
    """Verify an RFC 9421 signature (§3.2) on an incoming request.

    ``target`` is the raw request target (path and query), ``scheme`` the scheme the client
    used; the authority comes from the ``Host`` header. Checks run cheapest first: syntax,
    parameters and coverage, time window, ``Content-Digest`` against the raw body, then the key
    (refreshed once on failure) and the signature. Raises only ``SignatureError`` subclasses.
    """
    lowered = lower_headers(headers)
    parsed = parse_message_signature(lowered.get("signature-input", ""), lowered.get("signature", ""))
    params = parsed.params
    key_id = params.get("keyid")
    if not isinstance(key_id, str) or isinstance(key_id, Token) or not key_id:
        raise MalformedSignatureError("signature lacks a keyid")
    created_ts = _int_param(params, "created")
    if created_ts is None:
        raise MalformedSignatureError("signature lacks created")
    expires_ts = _int_param(params, "expires")
    algorithm = params.get("alg")
    if algorithm is not None and algorithm not in SUPPORTED_ALGORITHMS:
        raise UnsupportedAlgorithmError("unsupported signature algorithm (rsa-v1_5-sha256 or ed25519)")

    covered_names = {item.value for item in parsed.covered.items if not item.params}
    has_target = "@target-uri" in covered_names or (
        "@authority" in covered_names and bool(covered_names & {"@path", "@request-target"})
    )
    has_body = bool(body) or method.upper() not in _BODYLESS_METHODS
    if "@method" not in covered_names or not has_target:
        raise InsufficientCoverageError("signature must cover @method and @target-uri")
    if has_body and "content-digest" not in covered_names:
        raise InsufficientCoverageError("signature must cover content-digest")

    created = timestamp_to_datetime(created_ts)
    expires = timestamp_to_datetime(expires_ts) if expires_ts is not None else None
    check_time_window(created, expires, now=now or utc_now(), window=window or TimeWindow())

    if "content-digest" in covered_names:
        verify_content_digest(lowered.get("content-digest"), body)

    request = RequestComponents(method=method, scheme=scheme, authority=lowered.get("host", ""), target=target)
    base = build_signature_base(request, lowered, parsed.covered)

    def check(public_key: PublicKey) -> bool:
        if algorithm is None:
            chosen = "rsa-v1_5-sha256" if isinstance(public_key, rsa.RSAPublicKey) else "ed25519"
        else:
            chosen = str(algorithm)
        return verify_signature_bytes(public_key, chosen, parsed.signature, base)

    resolved = await resolve_and_verify(key_id, resolve_key, check)
    used = (
        str(algorithm)
        if algorithm is not None
        else ("rsa-v1_5-sha256" if isinstance(resolved.public_key, rsa.RSAPublicKey) else "ed25519")
    )
    return VerifiedSignature(
        key_id=resolved.key_id, owner_id=resolved.owner_id, scheme="rfc9421", algorithm=used, created=created
    )
