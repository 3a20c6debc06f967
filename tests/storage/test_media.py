"""The content-addressed media store."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
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


async def test_stale_files_are_listed_and_deleted_only_while_still_stale(tmp_path: Path) -> None:
    # Given two files, one last stored a day ago
    store = LocalMediaStore(tmp_path)
    old = await store.put(b"old bytes", "image/png")
    new = await store.put(b"new bytes", "image/webp")
    day_ago = (datetime.now(UTC) - timedelta(days=1)).timestamp()
    os.utime(store.local_path(old), (day_ago, day_ago))
    (tmp_path / "ab").mkdir(exist_ok=True)
    (tmp_path / "ab" / ".incoming-123").write_bytes(b"half written")  # not a key: never listed
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    # Then only the old one is stale
    assert await store.stale_keys(hour_ago) == [old]
    # When the same bytes are stored again (a new upload of them), the file is fresh and survives
    assert await store.put(b"old bytes", "image/png") == old
    assert await store.stale_keys(hour_ago) == []
    assert await store.delete_stale(old, hour_ago) is False
    assert await store.exists(old) and await store.exists(new)
    # When it ages again, it is deleted; deleting it twice is no error and reports nothing deleted
    os.utime(store.local_path(old), (day_ago, day_ago))
    assert await store.delete_stale(old, hour_ago) is True
    assert not await store.exists(old)
    assert await store.delete_stale(old, hour_ago) is False
