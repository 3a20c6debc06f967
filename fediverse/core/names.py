"""What the names we show may contain, so that ``@user@host`` always reads as what it is.

A display name loses the characters that reorder or hide text: a right-to-left override turns
``evil.com`` into what reads as ``moc.live``, a zero-width space makes two names look alike. A remote
username must be what Mastodon accepts (``Account::USERNAME_RE``: ASCII letters, digits and ``_``,
with ``.``/``-`` inside), and a host must be a plain ASCII host name (an international one in its
``xn--`` form, never decoded: ``аpple.example`` with a Cyrillic ``а`` stays visibly different).
"""

from __future__ import annotations

import re

#: Bidirectional controls: embeddings, overrides, isolates and the invisible direction marks.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
#: Characters that show nothing (zero-width space, word joiner, BOM, fillers, soft hyphen…).
INVISIBLE = (
    "\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180e\u200b\u2060-\u2064\u206a-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb"
    "\U0001d173-\U0001d17a\U000e0001"
)
_UNSHOWN = re.compile(f"[{BIDI_CONTROLS}{INVISIBLE}\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: A zero-width (non-)joiner only joins in scripts and emoji sequences; between ASCII it only hides.
_ASCII_JOINER = re.compile(r"[\u200c\u200d](?=[\x00-\x7f]|$)|(?:(?<=[\x00-\x7f])|^)[\u200c\u200d]")
_SPACES = re.compile(r"\s+")

REMOTE_USERNAME = re.compile(r"[A-Za-z0-9_]+(?:[.-]+[A-Za-z0-9_]+)*")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST = re.compile(rf"(?:(?:{_LABEL}\.)*{_LABEL}|\[[0-9a-f:.]+\])(?::[0-9]{{1,5}})?")


def clean_display_name(name: str) -> str:
    """``name`` without direction controls, invisible characters or control characters; line breaks
    and runs of spaces become one space."""
    shown = _ASCII_JOINER.sub("", _UNSHOWN.sub("", name))
    return _SPACES.sub(" ", shown).strip()


def is_remote_username(name: str) -> bool:
    return REMOTE_USERNAME.fullmatch(name) is not None


def is_plain_host(host: str) -> bool:
    """A lowercase ASCII host name with an optional port: no user info, no raw Unicode."""
    return _HOST.fullmatch(host) is not None
