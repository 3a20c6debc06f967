"""Content-addressed media storage: a file's key is derived from the SHA-256 of its bytes.

``LocalMediaStore`` keeps files in a folder; other stores (object storage) implement ``MediaStore``.
Keys are validated against a strict pattern, so a key taken from a URL can never escape the folder.

Files are written before the row that refers to them commits, so a crash can leave a file no row uses.
``stale_keys`` and ``delete_stale`` let a sweep remove those once they are old enough that no upload
can still be on its way to a row; storing bytes that already exist renews the file's time for that.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Protocol

from storage.private_files import make_private_folders

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
MIME_TYPES = {extension: mime for mime, extension in EXTENSIONS.items()}
_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}\.(jpg|png|webp|gif)$")


class MediaKeyError(ValueError):
    """A media key is malformed (and may be an attempt to reach outside the store)."""


def media_key(data: bytes, mime: str) -> str:
    """The storage key of ``data``: ``ab/cd/abcd…ef.jpg``."""
    extension = EXTENSIONS.get(mime)
    if extension is None:
        raise MediaKeyError(f"unsupported media type {mime!r}")
    digest = hashlib.sha256(data).hexdigest()
    return f"{digest[:2]}/{digest[2:4]}/{digest}.{extension}"


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise MediaKeyError("malformed media key")
    return key


def mime_of_key(key: str) -> str:
    return MIME_TYPES[check_key(key).rsplit(".", 1)[1]]


class MediaStore(Protocol):
    async def put(self, data: bytes, mime: str) -> str:
        """Store ``data`` and return its key; storing the same bytes twice is a no-op."""
        ...

    async def get(self, key: str) -> bytes: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...

    async def stale_keys(self, before: datetime) -> list[str]:
        """Keys of the files last stored before ``before``."""
        ...

    async def delete_stale(self, key: str, before: datetime) -> bool:
        """Delete the file if it was last stored before ``before`` (not stored again meanwhile)."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A file path to serve the key from directly, when the store is a local folder."""
        ...


class LocalMediaStore:
    """Files under ``root``, written atomically (temporary file + rename) off the event loop; the files
    are 0600 and their folders 0700 (the app serves them itself)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def local_path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, data: bytes, mime: str) -> str:
        key = media_key(data, mime)
        await asyncio.to_thread(self._write, self.local_path(key), data)
        return key

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self.local_path(key).read_bytes)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.local_path(key).is_file)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.local_path(key).unlink, True)

    async def stale_keys(self, before: datetime) -> list[str]:
        return await asyncio.to_thread(self._stale_keys, before.timestamp())

    async def delete_stale(self, key: str, before: datetime) -> bool:
        return await asyncio.to_thread(self._delete_stale, self.local_path(key), before.timestamp())

    def _stale_keys(self, before: float) -> list[str]:
        keys = []
        for folder, _, names in os.walk(self.root):
            for name in names:
                path = Path(folder, name)
                key = path.relative_to(self.root).as_posix()
                if _KEY.fullmatch(key) and _modified(path) < before:
                    keys.append(key)
        return keys

    @staticmethod
    def _delete_stale(path: Path, before: float) -> bool:
        if _modified(path) >= before:
            return False
        path.unlink(missing_ok=True)
        return True

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        try:
            os.utime(path)  # stored again: a new row is about to use it, so it is not stale
            return
        except FileNotFoundError:
            pass
        make_private_folders(path.parent)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")  # 0600
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _modified(path: Path) -> float:
    """The file's modification time; infinitely new when it is gone (nothing to delete)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")
