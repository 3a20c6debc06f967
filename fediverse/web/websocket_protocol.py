"""uvicorn's WebSocket protocol, imported when the first WebSocket connects (decision 0053).

A module of its own, importing nothing at load: with ``--workers N`` uvicorn pickles its config, this
function included, into each spawned worker, which imports this module before it can answer the
supervisor's health ping. Imported from the CLI, it took the whole command line with it (2 s and more on a
busy box), and uvicorn killed and restarted workers that had not answered within 5 s.
"""

from __future__ import annotations

import asyncio
from typing import Any


def websocket_protocol(**arguments: Any) -> asyncio.Protocol:
    """The sans-I/O protocol of `websockets` (a dependency of uvicorn[standard]) for one upgraded
    connection: ~1 MiB a process, and most processes never see a streaming client. uvicorn calls this as
    it would the protocol class."""
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    return WebSocketsSansIOProtocol(**arguments)
