"""Property tests: the readers of remote data never fail in unexpected ways, whatever a peer sends, and
the HTML sanitizer never lets active content through."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import as_list, audience, get_id, get_ids, get_types, get_url, is_public
from fediverse.core.text import extract_hashtags, extract_mentions, render_text
from fediverse.federation.actors_in import actor_fields
from fediverse.federation.notes_in import parse_note
from fediverse.federation.sanitize import html_to_text, sanitize_html

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
KEYS = [
    "id", "type", "actor", "object", "attributedTo", "to", "cc", "content", "contentMap", "summary", "url",
    "attachment", "tag", "inReplyTo", "published", "updated", "sensitive", "inbox", "preferredUsername",
    "publicKey", "endpoints", "icon", "image", "name", "mediaType", "blurhash", "width", "height", "focalPoint",
    "generation", "remixOf", "mood",
]  # fmt: skip
documents = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=12)
plausible_notes = st.fixed_dictionaries(
    {"id": st.just("https://remote.example/notes/1"), "type": st.just("Note"),
     "attributedTo": st.just("https://remote.example/users/a")},
    optional={key: json_values for key in KEYS if key not in ("id", "type", "attributedTo")},
)  # fmt: skip

SAFE_TAGS = {
    "p",
    "span",
    "br",
    "a",
    "del",
    "pre",
    "code",
    "em",
    "strong",
    "b",
    "i",
    "u",
    "ul",
    "ol",
    "li",
    "blockquote",
}
SAFE_SCHEMES = ("http:", "https:", "dat:", "dweb:", "ipfs:", "ipns:", "ssb:", "gopher:", "xmpp:", "magnet:", "gemini:")


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SAFE_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "src"):
                self.problems.append(f"{tag}[{name}]")
            if name == "href" and value and not value.strip().lower().startswith(SAFE_SCHEMES):
                self.problems.append(f"href={value}")


def active_content(markup: str) -> list[str]:
    """What a browser would run or load from ``markup``: tags beyond the allowlist, handlers, bad links."""
    collector = _TagCollector()
    collector.feed(markup)
    collector.close()
    return collector.problems


@given(json_values)
def test_tolerant_readers_accept_any_json_value(value: Any) -> None:
    assert isinstance(as_list(value), list)
    found = get_id(value)
    assert found is None or isinstance(found, str)
    assert all(isinstance(item, str) for item in get_ids(value))
    url = get_url(value)
    assert url is None or url.startswith(("http://", "https://"))


@given(documents)
def test_document_readers_accept_any_document(document: dict[str, Any]) -> None:
    assert isinstance(get_types(document), set)
    assert isinstance(audience(document), set)
    assert isinstance(is_public(document), bool)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
@given(documents | plausible_notes)
def test_parse_note_either_reads_a_note_or_says_why_not(document: dict[str, Any]) -> None:
    try:
        note = parse_note(document, "https://remote.example/users/a/followers")
    except InvalidDocumentError:
        return
    assert note.ap_id.startswith(("http://", "https://"))
    assert active_content(note.fields["content_html"]) == []
    for attachment in note.attachments:
        assert attachment.url.startswith(("http://", "https://"))
        assert attachment.mime.startswith("image/")
        assert -1.0 <= attachment.focal_x <= 1.0 and -1.0 <= attachment.focal_y <= 1.0


@settings(max_examples=200)
@given(documents)
def test_actor_fields_either_read_an_actor_or_say_why_not(document: dict[str, Any]) -> None:
    try:
        fields = actor_fields(document)
    except InvalidDocumentError:
        return
    assert fields["inbox_url"]
    assert active_content(fields["summary_html"]) == []


HOSTILE_FRAGMENTS = [
    "<script>alert(1)</script>", '<img src=x onerror="alert(1)">', '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>", "<iframe src=//evil>", '<p style="background:url(javascript:x)">', "<scr<script>ipt>",
    '<a href="JaVaScRiPt:alert(1)">', "<form action=//evil><input></form>", "<<p>>", "<!-- <script> -->",
    '<span class="mention evil" onmouseover="x">', "<object data=x>", "<style>*{}</style>",
]  # fmt: skip


@settings(max_examples=300)
@given(st.lists(st.sampled_from(HOSTILE_FRAGMENTS) | st.text(max_size=20), max_size=8).map("".join))
def test_sanitized_html_carries_no_active_content(markup: str) -> None:
    cleaned = sanitize_html(markup)
    assert active_content(cleaned) == []
    assert active_content(sanitize_html(cleaned)) == []
    assert isinstance(html_to_text(cleaned), str)


@given(st.text(max_size=300))
def test_rendered_captions_escape_everything_they_do_not_add(text: str) -> None:
    rendered = render_text(
        text, local_host="h.example", tag_url=lambda tag: f"https://h.example/tags/{tag}", mentions={}
    )
    assert active_content(rendered) == []
    # Every tag in the output is one this module writes.
    assert set(re.findall(r"<(/?\w+)", rendered)) <= {"p", "/p", "br", "a", "/a", "span", "/span"}
    assert isinstance(extract_hashtags(text), list)
    assert all(len(pair) == 2 for pair in extract_mentions(text, "h.example"))
