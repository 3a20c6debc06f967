"""Mastodon's CSV formats for follows, blocks, mutes, domain blocks and bookmarks: read and written here,
with no database (decision 0060).

What Mastodon writes (``app/models/export.rb``) and reads (``app/models/form/import.rb``):

| type | header | a row |
| --- | --- | --- |
| following | ``Account address,Show boosts,Notify on new posts,Languages`` | ``ana@example.com,true,false,"en, de"`` |
| followers | none | ``ana@example.com`` |
| blocks | none | ``ana@example.com`` |
| mutes | ``Account address,Hide notifications`` | ``ana@example.com,true`` |
| domain blocks | none | ``example.com`` |
| bookmarks | none | ``https://example.com/users/ana/statuses/1`` |

Reading follows Mastodon's rules: a file whose first header is not one Mastodon knows is read as having no
header (an old export, or a hand-written list); booleans are ``true``/``false`` (also ``1``/``0``, ``t``/``f``,
``on``/``off``), empty for "not said"; ``Languages`` is a comma-separated list inside one field; an address
may start with ``@``; blank lines are skipped. A line that cannot be used is kept with the reason, so the
import can say which line it skipped and why.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fediverse.core.errors import BadRequest
from storage.models import ImportType

#: Mastodon's limits (``Form::Import``): 20 000 rows; our files are smaller than its 20 MB.
MAX_ROWS = 20_000
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_FIELD_LENGTH = 2048

ACCOUNT_ADDRESS = "Account address"
SHOW_BOOSTS = "Show boosts"
NOTIFY = "Notify on new posts"
LANGUAGES = "Languages"
HIDE_NOTIFICATIONS = "Hide notifications"

FOLLOWING_HEADER = (ACCOUNT_ADDRESS, SHOW_BOOSTS, NOTIFY, LANGUAGES)
MUTES_HEADER = (ACCOUNT_ADDRESS, HIDE_NOTIFICATIONS)

#: The columns Mastodon expects per type, and the names it gives headerless files' columns.
_EXPECTED: dict[ImportType, tuple[str, ...]] = {
    ImportType.FOLLOWING: FOLLOWING_HEADER,
    ImportType.BLOCKS: (ACCOUNT_ADDRESS,),
    ImportType.MUTES: MUTES_HEADER,
    ImportType.DOMAIN_BLOCKS: ("#domain",),
    ImportType.BOOKMARKS: ("#uri",),
}
_KNOWN_FIRST_HEADERS = {ACCOUNT_ADDRESS, "#domain", "#uri", "List name"}
_TRUE = {"1", "t", "true", "on", "y", "yes"}
_FALSE = {"0", "f", "false", "off", "n", "no"}
_ADDRESS = re.compile(r"[^@\s/]+@[^@\s/]+")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_LANGUAGE = re.compile(r"[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{1,8})*")


@dataclass(frozen=True)
class ParsedRow:
    """One line of an import: what it says (``data``), or why it cannot be used (``problem``)."""

    line: int
    data: dict[str, Any]
    problem: str | None = None


def import_type(value: str) -> ImportType:
    """An import type from a form or the command line (``domain_blocks`` and ``domain-blocks`` alike)."""
    try:
        return ImportType(value.strip().lower().replace("_", "-"))
    except ValueError:
        kinds = ", ".join(kind.value for kind in ImportType)
        raise BadRequest(f"Unknown import type {value!r}: one of {kinds}.") from None


def parse_import(kind: ImportType, data: bytes, *, max_rows: int = MAX_ROWS) -> list[ParsedRow]:
    """The rows of an uploaded CSV of ``kind``; ``BadRequest`` for a file that is not one at all (too large,
    not UTF-8, empty, the wrong type's columns, too many rows)."""
    if len(data) > MAX_FILE_BYTES:
        raise BadRequest(f"The file is too large: at most {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadRequest(f"The file is not UTF-8 text (byte {error.start}).") from None
    if "\x00" in text:
        raise BadRequest("The file is not a CSV file.")
    try:
        records = [(number, row) for number, row in _records(text) if any(field.strip() for field in row)]
    except csv.Error as error:
        raise BadRequest(f"The file is not valid CSV: {error}.") from None
    if not records:
        raise BadRequest("The file is empty.")
    expected = _EXPECTED[kind]
    first = [field.strip() for field in records[0][1]]
    if first and first[0] in _KNOWN_FIRST_HEADERS:
        header, records = first, records[1:]
        if expected[0] not in header:  # Mastodon's check: the type's first column must be there
            raise BadRequest(f"This file's columns ({', '.join(header)}) are not those of a {kind.value} file.")
    else:
        header = list(expected)
    if len(records) > max_rows:
        raise BadRequest(f"The file has {len(records)} rows: at most {max_rows} can be imported at once.")
    return [_parse_row(kind, number, dict(zip(header, row, strict=False))) for number, row in records]


def _records(text: str) -> Iterable[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    for row in reader:
        if any(len(field) > MAX_FIELD_LENGTH for field in row):
            raise csv.Error(f"line {reader.line_num} has a field longer than {MAX_FIELD_LENGTH} characters")
        yield reader.line_num, row


def _parse_row(kind: ImportType, line: int, fields: dict[str, str]) -> ParsedRow:
    if kind == ImportType.DOMAIN_BLOCKS:
        raw = fields.get("#domain", "")
        domain, problem = normalize_domain(raw)
        return ParsedRow(line, {"domain": domain or raw.strip()}, problem)
    if kind == ImportType.BOOKMARKS:
        uri = fields.get("#uri", "").strip()
        problem = None if uri.startswith(("https://", "http://")) else "not a post's address (https://…)"
        return ParsedRow(line, {"uri": uri}, problem)
    acct = fields.get(ACCOUNT_ADDRESS, "").strip().removeprefix("@")
    data: dict[str, Any] = {"acct": acct}
    problem = None if _ADDRESS.fullmatch(acct) else "not an account address (user@server)"
    try:
        if kind == ImportType.FOLLOWING:
            data["show_boosts"] = _boolean(fields.get(SHOW_BOOSTS))
            data["notify"] = _boolean(fields.get(NOTIFY))
            data["languages"] = _languages(fields.get(LANGUAGES))
        elif kind == ImportType.MUTES:
            data["hide_notifications"] = _boolean(fields.get(HIDE_NOTIFICATIONS))
    except ValueError as error:
        problem = problem or str(error)
    return ParsedRow(line, data, problem)


def _boolean(value: str | None) -> bool | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is neither true nor false")


def _languages(value: str | None) -> list[str] | None:
    codes = [code.strip() for code in (value or "").split(",") if code.strip()]
    for code in codes:
        if not _LANGUAGE.fullmatch(code):
            raise ValueError(f"{code!r} is not a language code")
    return codes[:20] or None


def normalize_domain(raw: str) -> tuple[str | None, str | None]:
    """A domain as a per-account domain block keeps it (lower case, punycode, no port), or why not."""
    text = raw.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/").strip(".")
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError:
        return None, "not a domain name"
    labels = ascii_name.split(".")
    if not ascii_name or len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return None, "not a domain name"
    return ascii_name, None


# Writing: the exports.


def write_csv(header: Sequence[str] | None, rows: Iterable[Sequence[object]]) -> str:
    """CSV text as Mastodon's exports are written (``\\n`` line ends, booleans as ``true``/``false``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(header)
    for row in rows:
        writer.writerow([_field(value) for value in row])
    return buffer.getvalue()


def _field(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return str(value)
