"""Files and folders for the server's user alone: the database holds every account's private key and
password hash, so nothing Reverie keeps on disk is for other local users to read.

Python's ``mkdir(parents=True)`` gives the parents it creates the default mode, and SQLite creates its
database with the default mode (and its ``-wal`` and ``-shm`` files with the database's), so both are
done here with explicit modes. ``tighten`` takes group and other permissions off files left readable.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
#: The permission bits of the group and of other users, which private files have none of.
SHARED_BITS = 0o077


@dataclass(frozen=True)
class Tightened:
    """A path whose permissions were tightened, and its modes before and after."""

    path: Path
    before: int
    after: int


@dataclass
class TighteningReport:
    tightened: list[Tightened] = field(default_factory=list)
    #: Paths left readable because changing their mode failed (another user's file, say), with why.
    refused: list[tuple[Path, str]] = field(default_factory=list)


def make_private_folders(folder: Path) -> None:
    """Create ``folder`` and its missing parents, each 0700."""
    missing: list[Path] = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(mode=PRIVATE_FOLDER_MODE, exist_ok=True)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 unless it exists (so that what opens it later keeps that mode)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))


def tighten(path: Path, report: TighteningReport) -> None:
    """Take group and other permissions off ``path`` (a symbolic link is left alone); note it in ``report``."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode) or not mode & SHARED_BITS:
        return
    try:
        os.chmod(path, mode & ~SHARED_BITS)
    except OSError as error:
        report.refused.append((path, error.strerror or str(error)))
        return
    report.tightened.append(Tightened(path, mode, mode & ~SHARED_BITS))


def tighten_tree(root: Path, report: TighteningReport) -> None:
    """``tighten`` ``root`` and everything under it (symbolic links are neither changed nor followed)."""
    tighten(root, report)
    for folder, folders, files in os.walk(root):
        for name in folders + files:
            tighten(Path(folder, name), report)
