"""Sign/verify throughput of Reverie's HTTP signatures (draft-cavage and RFC 9421), one core.

Run: python bench/bench_signing.py [seconds-per-case]
Prints operations per second for signing a 3 KiB POST and verifying it (key already loaded,
key resolution through an in-memory resolver).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's code, not an installed copy

from activitypub.keys import PrivateKey, PublicKey
from activitypub.message_signatures import sign_message
from activitypub.signatures import KeyResolver, ResolvedKey, sign_request, verify_request

URL = "https://remote.example/users/alice/inbox"
BODY = b'{"type":"Create","object":{"content":"' + b"x" * 3000 + b'"}}'
KEY_ID = "https://local.example/users/bob#main-key"


def measure(label: str, seconds: float, operation: Callable[[], object]) -> None:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        operation()
        count += 1
    print(f"{label:<34} {count / elapsed:>10,.0f} /s")


def resolver_for(public_key: PublicKey) -> KeyResolver:
    async def resolve(key_id: str, *, refresh: bool) -> ResolvedKey:
        return ResolvedKey(key_id, "https://local.example/users/bob", public_key)

    return resolve


def run_once(loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[object]]) -> object:
    return loop.run_until_complete(make())


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.5
    keys: list[tuple[str, PrivateKey]] = [
        ("rsa-2048", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ed25519", ed25519.Ed25519PrivateKey.generate()),
    ]
    loop = asyncio.new_event_loop()
    try:
        for name, key in keys:
            base = {"Host": "remote.example", "Content-Type": "application/activity+json"}
            for scheme, sign in (("cavage", sign_request), ("rfc9421", sign_message)):
                headers = {**base, **sign("POST", URL, base, BODY, key_id=KEY_ID, private_key=key)}
                signing = partial(sign, "POST", URL, base, BODY, key_id=KEY_ID, private_key=key)
                verifying = partial(
                    verify_request,
                    "POST",
                    "/users/alice/inbox",
                    headers,
                    BODY,
                    resolve_key=resolver_for(key.public_key()),
                )
                measure(f"{scheme} sign ({name})", seconds, signing)
                measure(f"{scheme} verify ({name})", seconds, partial(run_once, loop, verifying))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
