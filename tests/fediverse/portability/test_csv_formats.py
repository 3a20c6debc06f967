"""Mastodon's CSV formats, read and written without a database (``fediverse.portability.csv_formats``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fediverse.core.errors import BadRequest
from fediverse.portability.csv_formats import FOLLOWING_HEADER, normalize_domain, parse_import, write_csv
from storage.models import ImportType

# As Mastodon 4.x writes them (app/models/export.rb): a header for follows and mutes, none for the rest.
MASTODON_FOLLOWING = (
    "Account address,Show boosts,Notify on new posts,Languages\n"
    "ana@example.com,true,false,\n"
    'ben@social.example,false,true,"en, de"\n'
)
MASTODON_MUTES = "Account address,Hide notifications\ncy@example.com,true\n"
MASTODON_BLOCKS = "spam@example.com\n"
MASTODON_DOMAINS = "spam.example\n"
MASTODON_BOOKMARKS = "https://example.com/users/ana/statuses/1\n"


def test_mastodons_following_export_reads_with_its_columns() -> None:
    rows = parse_import(ImportType.FOLLOWING, MASTODON_FOLLOWING.encode())
    assert [(row.line, row.data, row.problem) for row in rows] == [
        (2, {"acct": "ana@example.com", "show_boosts": True, "notify": False, "languages": None}, None),
        (3, {"acct": "ben@social.example", "show_boosts": False, "notify": True, "languages": ["en", "de"]}, None),
    ]


def test_files_without_a_header_and_old_exports_read_as_mastodon_reads_them() -> None:
    assert parse_import(ImportType.BLOCKS, MASTODON_BLOCKS.encode())[0].data == {"acct": "spam@example.com"}
    assert parse_import(ImportType.DOMAIN_BLOCKS, MASTODON_DOMAINS.encode())[0].data == {"domain": "spam.example"}
    bookmark = parse_import(ImportType.BOOKMARKS, MASTODON_BOOKMARKS.encode())[0]
    assert bookmark.data == {"uri": "https://example.com/users/ana/statuses/1"} and bookmark.problem is None
    # A following list of bare addresses (Mastodon before 3.x), with a BOM, @-prefixes and blank lines
    old = parse_import(ImportType.FOLLOWING, "\ufeff@ana@example.com\n\n ben@example.com \n".encode())
    assert [row.data["acct"] for row in old] == ["ana@example.com", "ben@example.com"]
    assert old[0].data["show_boosts"] is None
    mutes = parse_import(ImportType.MUTES, MASTODON_MUTES.encode())
    assert mutes[0].data == {"acct": "cy@example.com", "hide_notifications": True}
    # a following file imported as blocks is read by its first column, as Mastodon does
    assert parse_import(ImportType.BLOCKS, MASTODON_FOLLOWING.encode())[1].data == {"acct": "ben@social.example"}


def test_unusable_lines_are_kept_with_the_reason() -> None:
    rows = parse_import(
        ImportType.FOLLOWING,
        b"Account address,Show boosts,Notify on new posts,Languages\nnobody,true,false,\nana@x.example,maybe,,\n"
        b"ben@x.example,true,false,Klingon!\n",
    )
    assert [row.problem for row in rows] == [
        "not an account address (user@server)",
        "'maybe' is neither true nor false",
        "'Klingon!' is not a language code",
    ]
    domains = parse_import(
        ImportType.DOMAIN_BLOCKS, "not a domain\nBÜCHER.example\nhttps://Spam.Example:443/\n".encode()
    )
    assert [(row.data["domain"], row.problem) for row in domains] == [
        ("not a domain", "not a domain name"),
        ("xn--bcher-kva.example", None),
        ("spam.example", None),
    ]
    assert (
        parse_import(ImportType.BOOKMARKS, b"ftp://x.example/1\n")[0].problem == "not a post's address (https://\u2026)"
    )


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        (ImportType.BLOCKS, b"", "empty"),
        (ImportType.BLOCKS, b"\xc3\x28", "not UTF-8"),
        (ImportType.BLOCKS, b'"unclosed\n', "not valid CSV"),
        (ImportType.BLOCKS, b"a@b.c,\x00\n", "not a CSV file"),
        (ImportType.DOMAIN_BLOCKS, b"Account address\na@b.c\n", "not those of a domain-blocks file"),
        (ImportType.BLOCKS, b"a" * 3000 + b"@b.c\n", "longer than 2048"),
    ],
)
def test_a_file_that_is_no_such_csv_is_refused(kind: ImportType, data: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_import(kind, data)


def test_too_many_rows_are_refused() -> None:
    with pytest.raises(BadRequest, match="at most 3"):
        parse_import(ImportType.BLOCKS, b"a@b.example\n" * 4, max_rows=3)


def test_exports_are_written_as_mastodon_writes_them() -> None:
    written = write_csv(
        FOLLOWING_HEADER, [["ana@example.com", True, False, None], ["ben@social.example", False, True, ["en", "de"]]]
    )
    assert written == MASTODON_FOLLOWING
    assert write_csv(None, [["spam.example"]]) == MASTODON_DOMAINS


addresses = st.from_regex(r"[a-z0-9_]{1,12}@[a-z0-9]{1,10}\.example", fullmatch=True)


@given(st.lists(st.tuples(addresses, st.booleans(), st.booleans(), st.sampled_from([None, ["en"], ["en", "pt-BR"]]))))
def test_what_is_written_reads_back_the_same(follows: list[tuple[str, bool, bool, list[str] | None]]) -> None:
    text = write_csv(FOLLOWING_HEADER, [list(row) for row in follows])
    parsed = parse_import(ImportType.FOLLOWING, text.encode())  # a header alone reads as no rows, as Mastodon's
    assert [
        (row.data["acct"], row.data["show_boosts"], row.data["notify"], row.data["languages"]) for row in parsed
    ] == follows


def test_domains_are_normalised_like_mastodons() -> None:
    assert normalize_domain("Example.COM.") == ("example.com", None)
    assert normalize_domain("") == (None, "not a domain name")
