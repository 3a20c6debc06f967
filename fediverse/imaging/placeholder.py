"""BlurHash placeholders: compute ours, and check the ones remote servers send.

The encoder is a small numpy implementation of the reference algorithm (blurhash-python reads pixels
through ``Image.getdata``, deprecated in Pillow 13, and closes the image it is given).

Computing on a 32-px copy costs well under a millisecond; on a full-size image it costs hundreds
(decision 0005). Mastodon emits 4x4 components; Pixelfed accepts strings of 6 to 164 chars.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loaded on first use, not at start (docs/decisions/0053)
    import numpy as np
    from numpy.typing import NDArray
    from PIL import Image

BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
_BASE83_SET = frozenset(BASE83)
WORK_SIDE = 32
MAX_COMPONENTS = 5


def compute_blurhash(image: Image.Image, x_components: int = 4, y_components: int = 4) -> str:
    """BlurHash of ``image`` computed on a 32-px copy (``image`` itself is left untouched)."""
    import numpy as np
    from PIL import Image

    if not (1 <= x_components <= 9 and 1 <= y_components <= 9):
        raise ValueError("blurhash components must be between 1 and 9")
    small = image.convert("RGB")
    small.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BILINEAR)
    linear = _srgb_to_linear(np.asarray(small, dtype=np.float64) / 255.0)
    height, width = linear.shape[:2]
    xs = np.pi * np.arange(width) / width
    ys = np.pi * np.arange(height) / height
    factors = []
    for j in range(y_components):
        for i in range(x_components):
            basis = np.cos(ys[:, None] * j) * np.cos(xs[None, :] * i)
            scale = 1.0 if i == j == 0 else 2.0
            factors.append(scale * (linear * basis[..., None]).sum(axis=(0, 1)) / (width * height))
    dc, ac = factors[0], np.array(factors[1:])
    parts = [_base83((x_components - 1) + (y_components - 1) * 9, 1)]
    if len(ac):
        quantised_max = int(max(0, min(82, np.floor(np.abs(ac).max() * 166 - 0.5))))
        maximum = (quantised_max + 1) / 166
    else:
        quantised_max, maximum = 0, 1.0
    parts.append(_base83(quantised_max, 1))
    red, green, blue = (_linear_to_srgb(channel) for channel in dc)
    parts.append(_base83((red << 16) + (green << 8) + blue, 4))
    for component in ac:
        quantised = [int(max(0, min(18, math.floor(_sign_pow(v / maximum, 0.5) * 9 + 9.5)))) for v in component]
        parts.append(_base83(quantised[0] * 361 + quantised[1] * 19 + quantised[2], 2))
    return "".join(parts)


def _srgb_to_linear(values: NDArray[np.float64]) -> NDArray[np.float64]:
    import numpy as np

    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(value: float) -> int:
    value = min(1.0, max(0.0, float(value)))
    if value <= 0.0031308:
        return int(value * 12.92 * 255 + 0.5)
    return int((1.055 * value ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _sign_pow(value: float, exponent: float) -> float:
    return math.copysign(abs(value) ** exponent, value)


def _base83(value: int, length: int) -> str:
    return "".join(BASE83[(value // 83 ** (length - 1 - index)) % 83] for index in range(length))


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
