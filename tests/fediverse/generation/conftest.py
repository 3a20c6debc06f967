from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from fediverse.generation.base import GeneratedImage
from fediverse.generation.procedural import ProceduralGenerator


@pytest.fixture
def painter() -> ProceduralGenerator:
    return ProceduralGenerator()


def pixels_of(image: GeneratedImage) -> NDArray[np.float64]:
    with Image.open(io.BytesIO(image.data)) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.float64)
