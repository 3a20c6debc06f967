"""draft-cavage signatures: Mastodon's own signed requests, an independent implementation (pyhttpsig)
both ways, the failure cases a hostile peer can produce, and property tests on the parser."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpsig
import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from activitypub import errors
from activitypub.keys import public_key_pem
from activitypub.signatures import (
    HttpSignatureAuth,
    TimeWindow,
    VerifiedSignature,
    detect_signature_scheme,
    format_http_date,
    parse_signature_header,
    sign_request,
    verify_request,
)
from tests.activitypub.conftest import ACTOR_ID, DATA, KEY_ID, FakeKeyResolver

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
BODY = b'{"type":"Follow","actor":"https://remote.example/users/bob"}'
INBOX_URL = "https://local.example/users/alice/inbox"


def verify(
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    resolver: FakeKeyResolver,
    now: datetime = NOW,
    window: TimeWindow | None = None,
) -> VerifiedSignature:
    return asyncio.run(verify_request(method, target, headers, body, resolve_key=resolver, now=now, window=window))


def signed_post(key: Any, *, body: bytes = BODY, url: str = INBOX_URL, now: datetime = NOW) -> dict[str, str]:
    headers = {"Content-Type": "application/activity+json"}
    headers.update(sign_request("POST", url, headers, body, key_id=KEY_ID, private_key=key, now=now))
    return headers


def make_signature(key: rsa.RSAPrivateKey, signed: list[tuple[str, str]], algorithm: str = "rsa-sha256") -> str:
    """A hand-built Signature header over arbitrary (name, value) lines, for coverage tests."""
    message = "\n".join(f"{name}: {value}" for name, value in signed).encode()
    raw = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    names = " ".join(name for name, _ in signed)
    return f'keyId="{KEY_ID}",algorithm="{algorithm}",headers="{names}",signature="{raw}"'


# -- Mastodon's own signatures -------------------------------------------------------------

MASTODON = json.loads((DATA / "mastodon_signature_verification.json").read_text())


@pytest.fixture(scope="module")
def mastodon_public_key() -> rsa.RSAPublicKey:
    key = serialization.load_pem_private_key((DATA / "mastodon_signature_verification_key.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key()


@pytest.mark.parametrize("case", MASTODON["cases"], ids=[case["name"] for case in MASTODON["cases"]])
def test_mastodon_signed_requests(case: dict[str, Any], mastodon_public_key: rsa.RSAPublicKey) -> None:
    # Given a request signed by Mastodon's test suite, verified at the moment it was made
    resolver = FakeKeyResolver(cached=mastodon_public_key, refreshed=mastodon_public_key, owner_id=MASTODON["owner_id"])
    now = datetime.fromisoformat(MASTODON["now"].replace("Z", "+00:00"))
    call = verify_request(
        case["method"], case["target"], case["headers"], case["body"].encode(), resolve_key=resolver, now=now
    )
    if case["expect"] == "ok":
        verified = asyncio.run(call)
        assert verified.key_id == MASTODON["key_id"]
        assert verified.owner_id == MASTODON["owner_id"]
        assert verified.scheme == "draft-cavage"
    else:
        with pytest.raises(getattr(errors, case["expect"])):
            asyncio.run(call)


# -- what we send --------------------------------------------------------------------------


def test_post_signs_mastodons_header_set(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = signed_post(rsa_key, url="https://remote.example/inbox")
    params = parse_signature_header(headers["Signature"])
    assert params["keyId"] == KEY_ID
    assert params["algorithm"] == "rsa-sha256"
    assert params["headers"] == "(request-target) host date digest content-type"
    assert headers["Host"] == "remote.example"
    assert headers["Date"] == "Fri, 01 May 2026 12:00:00 GMT"
    assert headers["Digest"] == "SHA-256=" + base64.b64encode(hashlib.sha256(BODY).digest()).decode()


def test_get_signs_accept_and_no_digest(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = {"Accept": "application/activity+json"}
    added = sign_request(
        "GET", "https://remote.example:8443/users/bob?page=2", headers, key_id=KEY_ID, private_key=rsa_key
    )
    assert parse_signature_header(added["Signature"])["headers"] == "(request-target) host date accept"
    assert "Digest" not in added
    assert added["Host"] == "remote.example:8443"


def test_round_trip_post(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = signed_post(rsa_key)
    verified = verify("POST", "/users/alice/inbox", headers, BODY, FakeKeyResolver(cached=rsa_key.public_key()))
    assert (verified.key_id, verified.owner_id, verified.scheme, verified.created) == (
        KEY_ID,
        ACTOR_ID,
        "draft-cavage",
        NOW,
    )
    assert verified.is_signed_by(ACTOR_ID)


def test_round_trip_ed25519_signs_as_hs2019(ed_key: ed25519.Ed25519PrivateKey) -> None:
    headers = signed_post(ed_key)
    assert parse_signature_header(headers["Signature"])["algorithm"] == "hs2019"
    verified = verify("POST", "/users/alice/inbox", headers, BODY, FakeKeyResolver(cached=ed_key.public_key()))
    assert verified.algorithm == "hs2019"


def test_query_string_is_part_of_the_request_target(rsa_key: rsa.RSAPrivateKey) -> None:
    added = sign_request(
        "GET", "https://local.example/users/alice?page=2", {}, key_id=KEY_ID, private_key=rsa_key, now=NOW
    )
    resolver = FakeKeyResolver(cached=rsa_key.public_key(), refreshed=rsa_key.public_key())
    assert verify("GET", "/users/alice?page=2", added, b"", resolver).key_id == KEY_ID
    with pytest.raises(errors.SignatureMismatchError):
        verify("GET", "/users/alice?page=3", added, b"", resolver)


def test_auth_signs_every_send_with_a_fresh_date(rsa_key: rsa.RSAPrivateKey) -> None:
    # Given an auth whose clock advances between sends (a retry)
    moments = iter([NOW, NOW + timedelta(minutes=3)])
    auth = HttpSignatureAuth(key_id=KEY_ID, private_key=rsa_key, clock=lambda: next(moments))
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    async def send_twice() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=auth) as client:
            for _ in range(2):
                await client.post(INBOX_URL, content=BODY, headers={"Content-Type": "application/activity+json"})

    asyncio.run(send_twice())
    # Then each attempt carries its own Date and a signature that verifies at its own time
    assert [r.headers["Date"] for r in seen] == [format_http_date(NOW), format_http_date(NOW + timedelta(minutes=3))]
    resolver = FakeKeyResolver(cached=rsa_key.public_key())
    for request, moment in zip(seen, (NOW, NOW + timedelta(minutes=3)), strict=True):
        headers = dict(request.headers)
        verified = verify("POST", "/users/alice/inbox", headers, request.content, resolver, now=moment)
        assert verified.key_id == KEY_ID


def test_auth_signs_the_host_header_not_the_connected_address(rsa_key: rsa.RSAPrivateKey) -> None:
    # IP pinning sends to an address with the real hostname in Host; the signature must name the host.
    auth = HttpSignatureAuth(key_id=KEY_ID, private_key=rsa_key, clock=lambda: NOW)
    request = httpx.Request("GET", "https://203.0.113.7/users/bob", headers={"Host": "remote.example"})
    signed = next(auth.auth_flow(request))
    resolver = FakeKeyResolver(cached=rsa_key.public_key())
    assert verify("GET", "/users/bob", {**signed.headers}, b"", resolver).key_id == KEY_ID
    assert signed.headers["Host"] == "remote.example"


# -- independent implementation: pyhttpsig ------------------------------------------------


def pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize("url", [INBOX_URL, "https://local.example/users/alice/inbox?x=1&y=%20z"])
def test_pyhttpsig_verifies_our_post(rsa_key: rsa.RSAPrivateKey, url: str) -> None:
    headers = signed_post(rsa_key, url=url)
    target = url.split("local.example", 1)[1]
    verifier = httpsig.HeaderVerifier(
        headers,
        public_key_pem(rsa_key.public_key()),
        required_headers=["(request-target)", "host", "date", "digest"],
        method="POST",
        path=target,
        sign_header="signature",
    )
    assert verifier.verify() is True
    # and the digest it would check is the body's
    assert headers["Digest"] == "SHA-256=" + base64.b64encode(hashlib.sha256(BODY).digest()).decode()


def test_pyhttpsig_rejects_our_signature_for_another_path(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = signed_post(rsa_key)
    verifier = httpsig.HeaderVerifier(
        headers, public_key_pem(rsa_key.public_key()), method="POST", path="/inbox", sign_header="signature"
    )
    assert verifier.verify() is False


def test_we_verify_pyhttpsig_signatures(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = {
        "Host": "local.example",
        "Date": format_http_date(NOW),
        "Digest": "SHA-256=" + base64.b64encode(hashlib.sha256(BODY).digest()).decode(),
        "Content-Type": "application/activity+json",
    }
    signer = httpsig.HeaderSigner(
        KEY_ID,
        pem_private(rsa_key),
        algorithm="rsa-sha256",
        headers=["(request-target)", "host", "date", "digest", "content-type"],
        sign_header="signature",
    )
    signed = signer.sign(headers, method="POST", path="/users/alice/inbox?x=1")
    verified = verify(
        "POST", "/users/alice/inbox?x=1", dict(signed), BODY, FakeKeyResolver(cached=rsa_key.public_key())
    )
    assert verified.owner_id == ACTOR_ID


# -- failures ------------------------------------------------------------------------------


def test_wrong_digest_is_refused_before_the_key_is_resolved(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = signed_post(rsa_key)
    resolver = FakeKeyResolver(cached=rsa_key.public_key())
    with pytest.raises(errors.DigestError):
        verify("POST", "/users/alice/inbox", headers, BODY + b" ", resolver)
    assert resolver.calls == []


def test_signed_digest_header_missing(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = signed_post(rsa_key)
    del headers["Digest"]
    with pytest.raises(errors.SignatureError):
        verify("POST", "/users/alice/inbox", headers, BODY, FakeKeyResolver(cached=rsa_key.public_key()))


def test_post_without_digest_coverage(rsa_key: rsa.RSAPrivateKey) -> None:
    date = format_http_date(NOW)
    headers = {
        "Host": "local.example",
        "Date": date,
        "Signature": make_signature(
            rsa_key,
            [("(request-target)", "post /users/alice/inbox"), ("host", "local.example"), ("date", date)],
        ),
    }
    with pytest.raises(errors.InsufficientCoverageError, match="digest"):
        verify("POST", "/users/alice/inbox", headers, BODY, FakeKeyResolver(cached=rsa_key.public_key()))


@pytest.mark.parametrize(
    ("covered", "missing"),
    [
        (["(request-target)", "date"], "host"),
        (["host", "date"], "(request-target)"),
        (["(request-target)", "host"], "date"),
    ],
)
def test_get_must_cover_target_host_and_date(rsa_key: rsa.RSAPrivateKey, covered: list[str], missing: str) -> None:
    values = {"(request-target)": "get /users/alice", "host": "local.example", "date": format_http_date(NOW)}
    headers = {"Host": "local.example", "Date": values["date"]}
    headers["Signature"] = make_signature(rsa_key, [(name, values[name]) for name in covered])
    with pytest.raises(errors.InsufficientCoverageError, match=missing.replace("(", r"\(").replace(")", r"\)")):
        verify("GET", "/users/alice", headers, b"", FakeKeyResolver(cached=rsa_key.public_key()))


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(minutes=-64), True),
        (timedelta(minutes=-66), False),
        (timedelta(minutes=59), True),
        (timedelta(minutes=61), False),
        (timedelta(days=-1), False),
    ],
)
def test_date_window_is_mastodons(rsa_key: rsa.RSAPrivateKey, offset: timedelta, accepted: bool) -> None:
    headers = signed_post(rsa_key, now=NOW + offset)
    resolver = FakeKeyResolver(cached=rsa_key.public_key())
    if accepted:
        assert verify("POST", "/users/alice/inbox", headers, BODY, resolver).created == NOW + offset
    else:
        with pytest.raises(errors.SignatureExpiredError):
            verify("POST", "/users/alice/inbox", headers, BODY, resolver)


def test_date_window_is_a_parameter(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = signed_post(rsa_key, now=NOW - timedelta(minutes=3))
    strict = TimeWindow(clock_skew=timedelta(seconds=30), default_validity=timedelta(minutes=1))
    with pytest.raises(errors.SignatureExpiredError):
        verify("POST", "/users/alice/inbox", headers, BODY, FakeKeyResolver(cached=rsa_key.public_key()), window=strict)


def test_wrong_key_refreshes_once_then_fails(rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey) -> None:
    headers = signed_post(rsa_key)
    resolver = FakeKeyResolver(cached=other_rsa_key.public_key(), refreshed=other_rsa_key.public_key())
    with pytest.raises(errors.SignatureMismatchError):
        verify("POST", "/users/alice/inbox", headers, BODY, resolver)
    assert resolver.calls == [(KEY_ID, False), (KEY_ID, True)]


def test_rotated_key_is_refetched_and_used(rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey) -> None:
    # Given a cache holding the actor's old key, and the actor now signing with a new one
    headers = signed_post(rsa_key)
    resolver = FakeKeyResolver(cached=other_rsa_key.public_key(), refreshed=rsa_key.public_key())
    verified = verify("POST", "/users/alice/inbox", headers, BODY, resolver)
    assert verified.key_id == KEY_ID
    assert resolver.calls == [(KEY_ID, False), (KEY_ID, True)]


def test_freshly_fetched_key_is_not_fetched_again(rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey) -> None:
    headers = signed_post(rsa_key)
    resolver = FakeKeyResolver(cached=other_rsa_key.public_key(), refreshed=rsa_key.public_key(), fresh=True)
    with pytest.raises(errors.SignatureMismatchError):
        verify("POST", "/users/alice/inbox", headers, BODY, resolver)
    assert resolver.calls == [(KEY_ID, False)]


def test_key_owner_is_reported_for_the_caller_to_compare(rsa_key: rsa.RSAPrivateKey) -> None:
    # A valid signature by a key whose owner is not the activity's actor is the caller's to refuse.
    headers = signed_post(rsa_key)
    resolver = FakeKeyResolver(cached=rsa_key.public_key(), owner_id="https://elsewhere.example/users/eve")
    verified = verify("POST", "/users/alice/inbox", headers, BODY, resolver)
    assert verified.owner_id == "https://elsewhere.example/users/eve"
    assert not verified.is_signed_by(ACTOR_ID)


def test_unavailable_key(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(errors.KeyUnavailableError):
        verify("POST", "/users/alice/inbox", signed_post(rsa_key), BODY, FakeKeyResolver(cached=None))


def test_resolver_fetch_errors_become_key_unavailable(rsa_key: rsa.RSAPrivateKey) -> None:
    async def failing(key_id: str, *, refresh: bool) -> Any:
        raise errors.GoneError("gone", url=key_id, status=410)

    with pytest.raises(errors.KeyUnavailableError):
        asyncio.run(
            verify_request("POST", "/users/alice/inbox", signed_post(rsa_key), BODY, resolve_key=failing, now=NOW)
        )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "keyId",
        'keyId="unterminated',
        'keyId="a",keyId="b",signature="AAAA"',
        'keyId="a" signature="AAAA"',
        "=value",
    ],
)
def test_malformed_signature_header(value: str) -> None:
    with pytest.raises(errors.MalformedSignatureError):
        parse_signature_header(value)


def test_tolerant_parser() -> None:
    parsed = parse_signature_header(
        ' keyId="https://a.example/u#k" , algorithm=hs2019,,headers="(request-target) host",'
        'signature="a,b\\"c", extra="kept"'
    )
    assert parsed == {
        "keyId": "https://a.example/u#k",
        "algorithm": "hs2019",
        "headers": "(request-target) host",
        "signature": 'a,b"c',
        "extra": "kept",
    }


@pytest.mark.parametrize(
    ("signature", "error"),
    [
        ('keyId="k",algorithm="rsa-sha512",headers="date",signature="AAAA"', errors.UnsupportedAlgorithmError),
        ('keyId="k",algorithm="rsa-sha256",headers="date",signature="not base64!"', errors.MalformedSignatureError),
        ('algorithm="rsa-sha256",headers="date",signature="AAAA"', errors.MalformedSignatureError),
    ],
)
def test_bad_parameters(signature: str, error: type[Exception]) -> None:
    headers = {"Host": "local.example", "Date": format_http_date(NOW), "Signature": signature}
    with pytest.raises(error):
        verify("GET", "/", headers, b"", FakeKeyResolver(cached=None))


def test_unsigned_request() -> None:
    with pytest.raises(errors.SignatureError, match="not signed"):
        verify("GET", "/", {"Host": "local.example"}, b"", FakeKeyResolver(cached=None))


def test_detect_signature_scheme() -> None:
    assert detect_signature_scheme({"Signature": 'keyId="k"'}) == "draft-cavage"
    assert detect_signature_scheme({"signature": "sig1=:AA==:", "Signature-Input": "sig1=()"}) == "rfc9421"
    assert detect_signature_scheme({"Host": "x"}) is None


@pytest.mark.parametrize(
    ("sent_host", "ours", "accepted"),
    [
        ("local.example", "local.example", True),
        ("LOCAL.example:443", "local.example", True),  # a proxy may pass the default port on
        ("local.example.", "local.example", True),
        ("127.0.0.1:8765", "127.0.0.1:8765", True),
        ("[::1]:8765", "[::1]:8765", True),
        ("local.example:8443", "local.example", False),
        ("127.0.0.1:9000", "127.0.0.1:8765", False),  # another server on the same address
        ("other.example", "local.example", False),
        ("local.example.other.example", "local.example", False),
        ("local.example, other.example", "local.example", False),  # a repeated Host, joined
    ],
)
def test_a_signature_is_valid_only_for_our_own_host(
    rsa_key: rsa.RSAPrivateKey, sent_host: str, ours: str, accepted: bool
) -> None:
    # Given a request correctly signed for the host it was sent with
    headers = {"Content-Type": "application/activity+json", "Host": sent_host}
    headers.update(sign_request("POST", INBOX_URL, headers, BODY, key_id=KEY_ID, private_key=rsa_key, now=NOW))
    resolver = FakeKeyResolver(cached=rsa_key.public_key())
    call = verify_request(
        "POST", "/users/alice/inbox", headers, BODY, resolve_key=resolver, now=NOW, expected_host=ours
    )
    # Then it verifies only when that host is ours, and no key is looked up otherwise
    if accepted:
        assert asyncio.run(call).key_id == KEY_ID
    else:
        with pytest.raises(errors.MisdirectedRequestError, match="not this server"):
            asyncio.run(call)
        assert resolver.calls == []


# -- properties ----------------------------------------------------------------------------


token_text = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~"), min_size=1
)
plain_value = st.text(st.characters(codec="latin-1", exclude_characters='"\\\r\n'), max_size=60)


@given(st.dictionaries(token_text, plain_value, min_size=1, max_size=6))
def test_plain_and_spaced_headers_parse_to_the_same_parameters(params: dict[str, str]) -> None:
    """The fast path (plain ``a="b",c="d"``) and the general parser (here: spaces after commas) agree."""
    plain = ",".join(f'{name}="{value}"' for name, value in params.items())
    spaced = ", ".join(f'{name}="{value}"' for name, value in params.items())
    assert parse_signature_header(plain) == params
    assert parse_signature_header(spaced) == params


@given(st.text(max_size=300))
def test_parser_raises_only_malformed_signature_error(value: str) -> None:
    with contextlib.suppress(errors.MalformedSignatureError):
        parse_signature_header(value)


header_text = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=80)


@settings(max_examples=150, deadline=None)
@given(
    signature=st.one_of(header_text, st.builds(lambda s: f'keyId="k",headers="{s}",signature="AAAA"', header_text)),
    method=st.sampled_from(["GET", "POST", "PUT"]),
    target=header_text,
    date=header_text,
    digest=header_text,
    body=st.binary(max_size=40),
)
def test_verifier_raises_only_signature_errors(
    signature: str, method: str, target: str, date: str, digest: str, body: bytes
) -> None:
    headers = {"Signature": signature, "Date": date, "Digest": digest, "Host": "local.example"}
    resolver = FakeKeyResolver(cached=None)
    with contextlib.suppress(errors.SignatureError):
        verify(method, target, headers, body, resolver)


path_segment = st.text(st.characters(codec="ascii", categories=["L", "N"], include_characters="-._~%"), max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    segments=st.lists(path_segment, min_size=1, max_size=4),
    query=st.one_of(st.none(), st.text(st.characters(codec="ascii", categories=["L", "N"], include_characters="=&-_"))),
    body=st.binary(max_size=200),
)
def test_sign_verify_round_trip(
    rsa_key: rsa.RSAPrivateKey, segments: list[str], query: str | None, body: bytes
) -> None:
    target = "/" + "/".join(segments) + (f"?{query}" if query else "")
    added = sign_request(
        "POST", "https://local.example" + target, {}, body, key_id=KEY_ID, private_key=rsa_key, now=NOW
    )
    verified = verify("POST", target, added, body, FakeKeyResolver(cached=rsa_key.public_key()))
    assert verified.key_id == KEY_ID
