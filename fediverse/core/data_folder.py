"""The data folder is for the user running Reverie alone: its SQLite database holds every account's
private key and password hash, beside the C2PA signing key and unpublished uploads.

The ``reverie`` command (and the multi-process app factory) sets a 0077 umask, so whatever the process
creates is private; the places that create files also give explicit modes (``storage.private_files``).
At start, ``tighten_data_folder`` takes group and other permissions off what an older version, a
restored backup or a copy left readable, and says in the log what it changed.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from fediverse.core.config import Settings
from storage.db import normalize_url
from storage.private_files import TighteningReport, make_private_folders, tighten, tighten_tree

PRIVATE_UMASK = 0o077
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
#: How many changed paths the log line names before it just counts the rest.
NAMED_IN_LOG = 5

logger = logging.getLogger(__name__)


def keep_new_files_private() -> None:
    """From now on, files and folders this process creates are for its user alone."""
    os.umask(PRIVATE_UMASK)


def create_data_folder(settings: Settings) -> None:
    make_private_folders(settings.data_dir)


def tighten_data_folder(settings: Settings) -> TighteningReport:
    """Create the data folder (0700) if missing, make it and everything in it private, and a SQLite
    database kept elsewhere too; log what changed and what could not be changed."""
    create_data_folder(settings)
    report = TighteningReport()
    tighten_tree(settings.data_dir, report)
    for path in _sqlite_files(settings):
        if not path.is_relative_to(settings.data_dir):
            tighten(path, report)
    _log(settings.data_dir, report)
    return report


def _sqlite_files(settings: Settings) -> list[Path]:
    url = normalize_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return []
    database = Path(url.database).resolve()
    return [database, *(database.with_name(database.name + suffix) for suffix in SQLITE_COMPANIONS)]


def _log(folder: Path, report: TighteningReport) -> None:
    if report.tightened:
        named = ", ".join(
            f"{_shown(change.path, folder)} ({change.before:04o} -> {change.after:04o})"
            for change in report.tightened[:NAMED_IN_LOG]
        )
        more = len(report.tightened) - NAMED_IN_LOG
        logger.warning(
            "Other users could read %d path%s of the data folder %s; made them private to this user: %s%s",
            len(report.tightened),
            "" if len(report.tightened) == 1 else "s",
            folder,
            named,
            f" and {more} more" if more > 0 else "",
        )
    for path, reason in report.refused:
        logger.warning("Could not make %s private (%s): other users may read it", path, reason)


def _shown(path: Path, folder: Path) -> str:
    """``path`` relative to the data folder when inside it (``.`` for the folder), with ``/`` after folders."""
    shown = str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)
    return shown + "/" if stat.S_ISDIR(path.lstat().st_mode) and shown != "." else shown
