"""The content-addressed media store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from storage.media import LocalMediaStore, MediaKeyError, check_key, media_key, mime_of_key

pytestmark = pytest.mark.anyio


async def test_put_get_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path)
    data = b"\xff\xd8 not really a jpeg"
    key = await store.put(data, "image/jpeg")
    digest = hashlib.sha256(data).hexdigest()
    assert key == f"{digest[:2]}/{digest[2:4]}/{digest}.jpg"
    assert await store.put(data, "image/jpeg") == key
    assert await store.get(key) == data
    assert await store.exists(key)
    assert mime_of_key(key) == "image/jpeg"
    assert not list(tmp_path.rglob(".incoming-*"))  # no temporary files left behind
    await store.delete(key)
    assert not await store.exists(key)


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        "ab/cd/../../../secret.jpg",
        "/etc/passwd",
        "ab/cd/" + "0" * 64 + ".exe",
        "AB/CD/" + "A" * 64 + ".jpg",
        "ab/cd/" + "0" * 63 + ".jpg",
        "",
    ],
)
async def test_keys_that_could_escape_the_store_are_refused(tmp_path: Path, key: str) -> None:
    store = LocalMediaStore(tmp_path / "media")
    with pytest.raises(MediaKeyError):
        check_key(key)
    with pytest.raises(MediaKeyError):
        await store.get(key)


def test_unknown_media_types_have_no_key() -> None:
    with pytest.raises(MediaKeyError):
        media_key(b"x", "application/x-msdownload")
