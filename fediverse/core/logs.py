"""How the process logs: plain lines for people, or one JSON object a line (``REVERIE_LOG_FORMAT=json``)
for log shippers.

Every request is one line from ``reverie.requests`` (method, route template, status, milliseconds,
client address; uvicorn's own access log is switched off so nothing is logged twice), and every unit of
background work is one line from its queue with its count and time. Fields passed as ``extra`` (``route``,
``status``, ``ms`` …) become keys of the JSON object.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: ``LogRecord`` attributes that are not ``extra`` fields (and uvicorn's terminal-coloured copy of its message).
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}


#: A token in a query string (the streaming API's WebSocket takes one there; uvicorn logs the path with it).
_QUERY_TOKEN = re.compile(r"(access_token=)[^&\s\"']+")


class HideQueryTokens(logging.Filter):
    """Replace ``access_token=…`` in a record's message by ``access_token=[hidden]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "access_token=" in message:
            record.msg, record.args = _QUERY_TOKEN.sub(r"\1[hidden]", message), None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the ``extra`` fields, and the
    exception's traceback as text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "info", log_format: str = "text") -> None:
    """Send every logger's records to standard error in ``log_format``, at ``level`` and above."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(HideQueryTokens())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.getLevelName(level.upper()) if level.upper() in logging.getLevelNamesMapping() else "INFO")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # uvicorn's loggers hand their records to ours (one format for everything); its access log is ours.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
