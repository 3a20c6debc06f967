"""RFC 9421 message signatures: the RFC's own test vector, http-message-signatures (3.x) both ways,
Mastodon's coverage rules, and property tests on the Signature-Input parser."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from activitypub import errors
from activitypub.digests import compute_content_digest
from activitypub.message_signatures import (
    RequestComponents,
    build_signature_base,
    parse_message_signature,
    parse_signature_input,
    sign_message,
)
from activitypub.signature_common import verify_signature_bytes
from activitypub.signatures import VerifiedSignature, verify_request
from tests.activitypub.conftest import ACTOR_ID, DATA, KEY_ID, FakeKeyResolver

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
BODY = b'{"type":"Like","actor":"https://remote.example/users/bob"}'
INBOX_URL = "https://local.example/users/alice/inbox"


def verify(
    method: str, target: str, headers: dict[str, str], body: bytes, resolver: FakeKeyResolver, now: datetime = NOW
) -> VerifiedSignature:
    return asyncio.run(verify_request(method, target, headers, body, resolve_key=resolver, now=now))


def signed(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, **kwargs: object) -> dict[str, str]:
    headers = {"Host": "local.example", "Content-Type": "application/activity+json"}
    headers.update(
        sign_message("POST", INBOX_URL, headers, BODY, key_id=KEY_ID, private_key=key, created=NOW, **kwargs)  # type: ignore[arg-type]
    )
    return headers


# -- RFC 9421 Appendix B.2.6 ---------------------------------------------------------------

B26 = json.loads((DATA / "rfc9421_b26_ed25519.json").read_text())


def test_rfc_vector_signature_base_is_reproduced_byte_for_byte() -> None:
    headers = {name.lower(): value for name, value in B26["headers"].items()}
    parsed = parse_message_signature(headers["signature-input"], headers["signature"])
    request = RequestComponents(method="POST", scheme="https", authority="example.com", target=B26["target"])
    base = build_signature_base(request, headers, parsed.covered)
    assert base == B26["signature_base"].encode()
    public_key = load_pem_public_key(B26["public_key_pem"].encode())
    assert isinstance(public_key, ed25519.Ed25519PublicKey)
    assert verify_signature_bytes(public_key, "ed25519", parsed.signature, base)


def test_rfc_vector_fails_mastodons_coverage_rules() -> None:
    # B.2.6 covers neither @target-uri nor content-digest; Mastodon (and we) refuse such a POST.
    public_key = load_pem_public_key(B26["public_key_pem"].encode())
    assert isinstance(public_key, ed25519.Ed25519PublicKey)
    now = datetime.fromtimestamp(1618884473, tz=UTC)
    with pytest.raises(errors.InsufficientCoverageError):
        verify("POST", B26["target"], B26["headers"], B26["body"].encode(), FakeKeyResolver(cached=public_key), now)


# -- round trips -----------------------------------------------------------------------------


def test_round_trip_rsa(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = signed(rsa_key)
    assert headers["Content-Digest"] == compute_content_digest(BODY)
    assert 'alg="rsa-v1_5-sha256"' in headers["Signature-Input"]
    verified = verify("POST", "/users/alice/inbox", headers, BODY, FakeKeyResolver(cached=rsa_key.public_key()))
    assert (verified.scheme, verified.algorithm, verified.owner_id, verified.created) == (
        "rfc9421",
        "rsa-v1_5-sha256",
        ACTOR_ID,
        NOW,
    )


def test_round_trip_ed25519(ed_key: ed25519.Ed25519PrivateKey) -> None:
    verified = verify("POST", "/users/alice/inbox", signed(ed_key), BODY, FakeKeyResolver(cached=ed_key.public_key()))
    assert verified.algorithm == "ed25519"


def test_alg_absent_follows_the_key_type(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = {"Host": "local.example"}
    covered = ["@method", "@authority", "@path"]
    headers.update(
        sign_message(
            "GET",
            "https://local.example/users/alice",
            headers,
            key_id=KEY_ID,
            private_key=rsa_key,
            created=NOW,
            components=covered,
        )
    )
    headers["Signature-Input"] = headers["Signature-Input"].replace(';alg="rsa-v1_5-sha256"', "")
    # Removing alg changes the signature base, so re-sign over the new parameters by hand.
    parsed = parse_message_signature(headers["Signature-Input"], headers["Signature"])
    request = RequestComponents(method="GET", scheme="https", authority="local.example", target="/users/alice")
    base = build_signature_base(request, {k.lower(): v for k, v in headers.items()}, parsed.covered)
    raw = rsa_key.sign(base, padding.PKCS1v15(), hashes.SHA256())
    headers["Signature"] = f"sig1=:{base64.b64encode(raw).decode()}:"
    verified = verify("GET", "/users/alice", headers, b"", FakeKeyResolver(cached=rsa_key.public_key()))
    assert verified.algorithm == "rsa-v1_5-sha256"


# -- independent implementation: http-message-signatures ----------------------------------


@dataclass
class Message:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_http_message_signatures_verifies_ours(
    kind: str, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    key = rsa_key if kind == "rsa" else ed_key
    algorithm = algorithms.RSA_V1_5_SHA256 if kind == "rsa" else algorithms.ED25519
    headers = {"Host": "local.example", "Content-Type": "application/activity+json"}
    headers.update(sign_message("POST", INBOX_URL + "?x=1", headers, BODY, key_id=KEY_ID, private_key=key))
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithm,
        key_resolver=MappingKeyResolver(public_keys={KEY_ID: key.public_key()}, private_keys={}),
    )
    results = verifier.verify(
        Message("POST", INBOX_URL + "?x=1", headers), require_components=("@method", "@target-uri"), body=BODY
    )
    assert results[0].parameters["keyid"] == KEY_ID
    assert results[0].body == BODY


def test_http_message_signatures_rejects_ours_for_another_uri(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = signed(rsa_key)
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.RSA_V1_5_SHA256,
        key_resolver=MappingKeyResolver(public_keys={KEY_ID: rsa_key.public_key()}, private_keys={}),
    )
    with pytest.raises(InvalidSignature):
        verifier.verify(Message("POST", "https://local.example/inbox", headers), body=BODY)


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_we_verify_http_message_signatures(
    kind: str, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    key = rsa_key if kind == "rsa" else ed_key
    algorithm = algorithms.RSA_V1_5_SHA256 if kind == "rsa" else algorithms.ED25519
    message = Message("POST", INBOX_URL, {"Host": "local.example", "Content-Type": "application/activity+json"})
    signer = HTTPMessageSigner(
        signature_algorithm=algorithm, key_resolver=MappingKeyResolver(public_keys={}, private_keys={KEY_ID: key})
    )
    signer.sign(
        message,
        key_id=KEY_ID,
        created=NOW,
        label="sig1",
        covered_component_ids=("@method", "@target-uri", "@authority", "content-type"),
        body=BODY,
    )
    assert "Content-Digest" in message.headers
    verified = verify("POST", "/users/alice/inbox", message.headers, BODY, FakeKeyResolver(cached=key.public_key()))
    assert verified.key_id == KEY_ID


# -- failures ------------------------------------------------------------------------------


def test_content_digest_mismatch_is_refused_before_the_key_is_resolved(rsa_key: rsa.RSAPrivateKey) -> None:
    resolver = FakeKeyResolver(cached=rsa_key.public_key())
    with pytest.raises(errors.DigestError):
        verify("POST", "/users/alice/inbox", signed(rsa_key), BODY + b"!", resolver)
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("components", "error"),
    [
        (["@target-uri", "content-digest"], errors.InsufficientCoverageError),  # no @method
        (["@method", "content-digest"], errors.InsufficientCoverageError),  # no target
        (["@method", "@target-uri"], errors.InsufficientCoverageError),  # POST without content-digest
    ],
)
def test_coverage_rules(rsa_key: rsa.RSAPrivateKey, components: list[str], error: type[Exception]) -> None:
    with pytest.raises(error):
        verify(
            "POST",
            "/users/alice/inbox",
            signed(rsa_key, components=components),
            BODY,
            FakeKeyResolver(cached=rsa_key.public_key()),
        )


def test_authority_and_path_are_an_accepted_target(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = signed(rsa_key, components=["@method", "@authority", "@path", "content-digest"])
    assert verify("POST", "/users/alice/inbox", headers, BODY, FakeKeyResolver(cached=rsa_key.public_key()))


@pytest.mark.parametrize(
    ("created", "accepted"),
    [(NOW - timedelta(minutes=64), True), (NOW - timedelta(minutes=66), False), (NOW + timedelta(minutes=61), False)],
)
def test_created_window_is_mastodons(rsa_key: rsa.RSAPrivateKey, created: datetime, accepted: bool) -> None:
    headers = {"Host": "local.example"}
    headers.update(sign_message("POST", INBOX_URL, headers, BODY, key_id=KEY_ID, private_key=rsa_key, created=created))
    resolver = FakeKeyResolver(cached=rsa_key.public_key())
    if accepted:
        assert verify("POST", "/users/alice/inbox", headers, BODY, resolver).created == created
    else:
        with pytest.raises(errors.SignatureExpiredError):
            verify("POST", "/users/alice/inbox", headers, BODY, resolver)


def test_explicit_expiry_is_honoured(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = signed(rsa_key, expires=NOW + timedelta(seconds=10))
    resolver = FakeKeyResolver(cached=rsa_key.public_key())
    later = NOW + timedelta(hours=1, seconds=11)
    with pytest.raises(errors.SignatureExpiredError):
        verify("POST", "/users/alice/inbox", headers, BODY, resolver, now=later)


def test_tampered_target_and_wrong_key(rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey) -> None:
    headers = signed(rsa_key)
    resolver = FakeKeyResolver(cached=rsa_key.public_key(), refreshed=rsa_key.public_key())
    with pytest.raises(errors.SignatureMismatchError):
        verify("POST", "/users/mallory/inbox", headers, BODY, resolver)
    rotated = FakeKeyResolver(cached=other_rsa_key.public_key(), refreshed=rsa_key.public_key())
    assert verify("POST", "/users/alice/inbox", headers, BODY, rotated).key_id == KEY_ID
    assert rotated.calls == [(KEY_ID, False), (KEY_ID, True)]


@pytest.mark.parametrize(
    ("signature_input", "signature", "error"),
    [
        ('sig1=("@method");keyid="k"', "sig1=:AAAA:", errors.MalformedSignatureError),  # no created
        ('sig1=("@method");created=1', "sig1=:AAAA:", errors.MalformedSignatureError),  # no keyid
        ('sig1=("@method");created=1;keyid="k"', "sig2=:AAAA:", errors.MalformedSignatureError),  # labels differ
        (
            'a=("@method");created=1;keyid="k", b=("@method");created=1;keyid="k"',
            "a=:AAAA:, b=:AAAA:",
            errors.MalformedSignatureError,
        ),
        ('sig1=("@method");created=1;keyid="k";alg="rsa-pss-sha512"', "sig1=:AAAA:", errors.UnsupportedAlgorithmError),
        ("sig1=@method", "sig1=:AAAA:", errors.MalformedSignatureError),
        ('sig1=("@method");created=1;keyid="k"', 'sig1="text"', errors.MalformedSignatureError),
    ],
)
def test_malformed_or_incomplete_signatures(signature_input: str, signature: str, error: type[Exception]) -> None:
    headers = {"Host": "local.example", "Signature-Input": signature_input, "Signature": signature}
    with pytest.raises(error):
        verify("GET", "/", headers, b"", FakeKeyResolver(cached=None))


# -- properties ----------------------------------------------------------------------------


@given(st.text(max_size=200))
def test_signature_input_parser_raises_only_malformed_signature_error(value: str) -> None:
    with contextlib.suppress(errors.MalformedSignatureError):
        parse_signature_input(value)


sf_alphabet = st.sampled_from(list('sig1=()"@method;created=1234keyid:AAAA ,-*?0.\\/'))


@settings(max_examples=300)
@given(st.text(sf_alphabet, max_size=80), st.text(sf_alphabet, max_size=40))
def test_message_signature_parser_raises_only_malformed_signature_error(signature_input: str, signature: str) -> None:
    with contextlib.suppress(errors.MalformedSignatureError):
        parse_message_signature(signature_input, signature)


@settings(max_examples=100, deadline=None)
@given(st.text(sf_alphabet, max_size=80), st.text(sf_alphabet, max_size=40), st.binary(max_size=20))
def test_verifier_raises_only_signature_errors(signature_input: str, signature: str, body: bytes) -> None:
    headers = {"Host": "local.example", "Signature-Input": signature_input or "x", "Signature": signature}
    with contextlib.suppress(errors.SignatureError):
        verify("POST", "/inbox", headers, body, FakeKeyResolver(cached=None))


safe_text = st.text(st.characters(codec="ascii", categories=["L", "N"], include_characters="-._~"), max_size=12)


@settings(max_examples=50, deadline=None)
@given(
    segments=st.lists(safe_text, min_size=1, max_size=4),
    query=st.one_of(st.none(), st.text(st.characters(codec="ascii", categories=["L", "N"], include_characters="=&"))),
    body=st.binary(max_size=200),
)
def test_sign_verify_round_trip(
    ed_key: ed25519.Ed25519PrivateKey, segments: list[str], query: str | None, body: bytes
) -> None:
    target = "/" + "/".join(segments) + (f"?{query}" if query else "")
    headers = {"Host": "local.example"}
    headers.update(
        sign_message(
            "POST", "https://local.example" + target, headers, body, key_id=KEY_ID, private_key=ed_key, created=NOW
        )
    )
    assert verify("POST", target, headers, body, FakeKeyResolver(cached=ed_key.public_key())).key_id == KEY_ID
