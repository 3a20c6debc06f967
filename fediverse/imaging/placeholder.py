"""BlurHash placeholders: compute ours, and check the ones remote servers send.

Computing on a 32-px copy costs well under a millisecond; on a full-size image it costs hundreds
(reference/performance.md §5). Mastodon emits 4x4 components; Pixelfed accepts strings of 6 to 164 chars.
"""

from __future__ import annotations

import blurhash
from PIL import Image

BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
_BASE83_SET = frozenset(BASE83)
WORK_SIDE = 32
MAX_COMPONENTS = 5


def compute_blurhash(image: Image.Image, x_components: int = 4, y_components: int = 4) -> str:
    """BlurHash of ``image`` (which is left untouched: the encoder closes the copy it is given)."""
    small = image.convert("RGB")
    small.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BILINEAR)
    return str(blurhash.encode(small.copy(), x_components, y_components))


def is_valid_blurhash(value: object) -> bool:
    """True for a well-formed BlurHash with at most 5x5 components (what we store from remote servers)."""
    if not isinstance(value, str) or not 6 <= len(value) <= 164:
        return False
    if any(char not in _BASE83_SET for char in value):
        return False
    size_flag = BASE83.index(value[0])
    x_components, y_components = size_flag % 9 + 1, size_flag // 9 + 1
    if x_components > MAX_COMPONENTS or y_components > MAX_COMPONENTS:
        return False
    return len(value) == 4 + 2 * x_components * y_components
