"""RFC 8941 parsing as RFC 9421/9530 headers need it: real field shapes, strict refusal of bad ones."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub.structured_fields import (
    InnerList,
    Item,
    StructuredFieldError,
    Token,
    parse_dictionary,
    serialize_dictionary,
)


def test_signature_input_shape() -> None:
    parsed = parse_dictionary(
        'sig1=("@method" "@target-uri" "content-digest");created=1618884473;keyid="k";alg="ed25519"'
    )
    member = parsed["sig1"]
    assert isinstance(member, InnerList)
    assert [item.value for item in member.items] == ["@method", "@target-uri", "content-digest"]
    assert member.params == {"created": 1618884473, "keyid": "k", "alg": "ed25519"}


def test_bare_items() -> None:
    parsed = parse_dictionary('a=1, b=-2.5, c="x\\"y", d=tok/en:1, e=:AQID:, f=?0, g, h;p=?1')
    assert parsed == {
        "a": Item(1),
        "b": Item(Decimal("-2.5")),
        "c": Item('x"y'),
        "d": Item(Token("tok/en:1")),
        "e": Item(b"\x01\x02\x03"),
        "f": Item(False),
        "g": Item(True),
        "h": Item(True, {"p": True}),
    }
    assert isinstance(parsed["d"].value, Token)


def test_round_trip_serialization() -> None:
    text = 'sig1=("@method" "@query-param";name="Pet");created=1;keyid="k", sig2=:AQID:, flag'
    assert serialize_dictionary(parse_dictionary(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "sig1=(",
        'a="unterminated',
        "A=1",
        "a=1,",
        "a=1 b=2",
        "a=:!!:",
        "a=1234567890123456",
        "a=é",
        "a=1, a=2",
        "a=1.2345",
    ],
)
def test_malformed_fields_are_refused(text: str) -> None:
    with pytest.raises(StructuredFieldError):
        parse_dictionary(text)


@given(st.text(max_size=100))
def test_parser_raises_only_structured_field_error(text: str) -> None:
    with contextlib.suppress(StructuredFieldError):
        parse_dictionary(text)
