"""The delivery client's DNS resolver: aiohttp connects only to addresses we vetted.

Its own module because it subclasses aiohttp's resolver: ``transports`` imports it with aiohttp on the
first delivery, so an idle server holds neither (docs/decisions/0053).
"""

from __future__ import annotations

import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from activitypub.errors import UnsafeAddressError
from activitypub.fetch import is_private_address


class VettingResolver(AbstractResolver):
    """aiohttp's DNS lookups go through here: an answer with a private address is refused (unless
    ``allow_private``), and aiohttp connects to exactly the addresses returned, so a second DNS answer
    cannot redirect it (the rule of ``activitypub.fetch``)."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._resolver = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._resolver.resolve(host, port, family)
        refused = [answer["host"] for answer in answers if is_private_address(answer["host"])]
        if refused and not self.allow_private:
            raise UnsafeAddressError("host resolves to a non-public address", url=host, detail=f"{host}: {refused}")
        return answers

    async def close(self) -> None:
        await self._resolver.close()
