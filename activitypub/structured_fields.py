"""Structured Field Values for HTTP (RFC 8941): the subset RFC 9421 and RFC 9530 need.

Parses and serialises Dictionaries whose members are Items or Inner Lists, with parameters.
Bare items: Integer, Decimal, String, Token, Byte Sequence, Boolean. Parsing is strict, as the
RFC asks (§4.2): any deviation raises ``StructuredFieldError``, never anything else, so callers
can map it to their own error.
"""

from __future__ import annotations

import base64
import binascii
import string
from dataclasses import dataclass, field
from decimal import Decimal


class StructuredFieldError(ValueError):
    """A field value is not a valid RFC 8941 structure."""


class Token(str):
    """An RFC 8941 Token (serialised bare, unlike a String)."""

    __slots__ = ()


BareItem = int | Decimal | str | Token | bytes | bool
Parameters = dict[str, BareItem]


@dataclass(frozen=True)
class Item:
    value: BareItem
    params: Parameters = field(default_factory=dict)


@dataclass(frozen=True)
class InnerList:
    items: tuple[Item, ...]
    params: Parameters = field(default_factory=dict)


Member = Item | InnerList

_KEY_START = string.ascii_lowercase + "*"
_KEY_CHARS = string.ascii_lowercase + string.digits + "_-.*"
_TOKEN_START = string.ascii_letters + "*"
# tchar (RFC 9110 §5.6.2) plus ":" and "/" (RFC 8941 §3.3.4).
_TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~:/"
_BASE64_CHARS = frozenset(string.ascii_letters + string.digits + "+/=")


class _Parser:
    def __init__(self, text: str) -> None:
        if not text.isascii():
            raise StructuredFieldError("structured fields are ASCII only")
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        char = self.peek()
        self.pos += 1
        return char

    def skip_sp(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def skip_ows(self) -> None:
        while self.peek() in (" ", "\t") and self.peek():
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def parse_dictionary(self) -> dict[str, Member]:
        result: dict[str, Member] = {}
        self.skip_sp()
        if self.at_end():
            return result
        while True:
            key = self.parse_key()
            member: Member
            if self.peek() == "=":
                self.pos += 1
                member = self.parse_item_or_inner_list()
            else:
                member = Item(True, self.parse_parameters())
            # RFC 8941 §4.2.2: a repeated key overwrites; RFC 9421 forbids repeated labels, so we refuse.
            if key in result:
                raise StructuredFieldError(f"duplicate dictionary key {key!r}")
            result[key] = member
            self.skip_ows()
            if self.at_end():
                return result
            if self.take() != ",":
                raise StructuredFieldError("expected ',' between dictionary members")
            self.skip_ows()
            if self.at_end():
                raise StructuredFieldError("trailing ',' in dictionary")

    def parse_item_or_inner_list(self) -> Member:
        if self.peek() == "(":
            return self.parse_inner_list()
        return self.parse_item()

    def parse_inner_list(self) -> InnerList:
        self.pos += 1  # "("
        items: list[Item] = []
        while not self.at_end():
            self.skip_sp()
            if self.peek() == ")":
                self.pos += 1
                return InnerList(tuple(items), self.parse_parameters())
            items.append(self.parse_item())
            if self.peek() not in (" ", ")"):
                raise StructuredFieldError("expected ' ' or ')' in inner list")
        raise StructuredFieldError("unterminated inner list")

    def parse_item(self) -> Item:
        value = self.parse_bare_item()
        return Item(value, self.parse_parameters())

    def parse_parameters(self) -> Parameters:
        params: Parameters = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip_sp()
            key = self.parse_key()
            value: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.parse_bare_item()
            params[key] = value
        return params

    def parse_key(self) -> str:
        if not self.peek() or self.peek() not in _KEY_START:
            raise StructuredFieldError("a key must start with a lowercase letter or '*'")
        start = self.pos
        while self.peek() and self.peek() in _KEY_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def parse_bare_item(self) -> BareItem:
        char = self.peek()
        if char == "-" or char.isdigit():
            return self.parse_number()
        if char == '"':
            return self.parse_string()
        if char == ":":
            return self.parse_bytes()
        if char == "?":
            return self.parse_boolean()
        if char and char in _TOKEN_START:
            return self.parse_token()
        raise StructuredFieldError("unrecognised item")

    def parse_number(self) -> int | Decimal:
        start = self.pos
        if self.peek() == "-":
            self.pos += 1
        if not self.peek().isdigit():
            raise StructuredFieldError("expected a digit")
        while self.peek() and (self.peek().isdigit() or self.peek() == "."):
            self.pos += 1
        number = self.text[start : self.pos]
        digits = number.lstrip("-")
        if "." not in digits:
            if len(digits) > 15:
                raise StructuredFieldError("integer too long")
            return int(number)
        whole, _, fraction = digits.partition(".")
        if "." in fraction or len(whole) > 12 or not 1 <= len(fraction) <= 3:
            raise StructuredFieldError("malformed decimal")
        return Decimal(number)

    def parse_string(self) -> str:
        self.pos += 1  # opening quote
        out: list[str] = []
        while not self.at_end():
            char = self.take()
            if char == "\\":
                escaped = self.take()
                if escaped not in ('"', "\\"):
                    raise StructuredFieldError("invalid escape in string")
                out.append(escaped)
            elif char == '"':
                return "".join(out)
            elif not " " <= char <= "~":
                raise StructuredFieldError("invalid character in string")
            else:
                out.append(char)
        raise StructuredFieldError("unterminated string")

    def parse_token(self) -> Token:
        start = self.pos
        while self.peek() and self.peek() in _TOKEN_CHARS:
            self.pos += 1
        return Token(self.text[start : self.pos])

    def parse_bytes(self) -> bytes:
        self.pos += 1  # ":"
        end = self.text.find(":", self.pos)
        if end < 0:
            raise StructuredFieldError("unterminated byte sequence")
        encoded = self.text[self.pos : end]
        self.pos = end + 1
        if not set(encoded) <= _BASE64_CHARS:
            raise StructuredFieldError("invalid base64 in byte sequence")
        try:
            # Padding may be omitted by senders (RFC 8941 §4.2.7 allows tolerance).
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError) as error:
            raise StructuredFieldError("invalid base64 in byte sequence") from error

    def parse_boolean(self) -> bool:
        self.pos += 1  # "?"
        char = self.take()
        if char == "1":
            return True
        if char == "0":
            return False
        raise StructuredFieldError("invalid boolean")


def parse_dictionary(text: str) -> dict[str, Member]:
    """Parse an RFC 8941 §3.2 Dictionary field value."""
    parser = _Parser(text)
    result = parser.parse_dictionary()
    parser.skip_sp()
    if not parser.at_end():
        raise StructuredFieldError("trailing characters after dictionary")
    return result


def serialize_bare_item(value: BareItem) -> str:
    """Serialise a bare item (RFC 8941 §4.1.3)."""
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.001")).normalize(), "f").rstrip("0").rstrip(".") or "0"
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, Token):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def serialize_parameters(params: Parameters) -> str:
    return "".join(
        f";{key}" if value is True else f";{key}={serialize_bare_item(value)}" for key, value in params.items()
    )


def serialize_item(item: Item) -> str:
    return serialize_bare_item(item.value) + serialize_parameters(item.params)


def serialize_inner_list(inner: InnerList) -> str:
    return "(" + " ".join(serialize_item(item) for item in inner.items) + ")" + serialize_parameters(inner.params)


def serialize_member(member: Member) -> str:
    return serialize_inner_list(member) if isinstance(member, InnerList) else serialize_item(member)


def serialize_dictionary(members: dict[str, Member]) -> str:
    """Serialise a Dictionary (RFC 8941 §4.1.2); a bare ``True`` Item is written as its key alone."""
    parts = []
    for key, member in members.items():
        if isinstance(member, Item) and member.value is True:
            parts.append(key + serialize_parameters(member.params))
        else:
            parts.append(f"{key}={serialize_member(member)}")
    return ", ".join(parts)
