"""Shared fixtures for the protocol tests: keys (generated once per session) and a recording key resolver."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from activitypub.errors import KeyUnavailableError
from activitypub.keys import PublicKey
from activitypub.signatures import ResolvedKey

DATA = Path(__file__).resolve().parent.parent / "data"

ACTOR_ID = "https://remote.example/users/bob"
KEY_ID = f"{ACTOR_ID}#main-key"


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@dataclass
class FakeKeyResolver:
    """Serves a cached key first and ``refreshed`` on ``refresh=True``; records every call."""

    cached: PublicKey | None
    refreshed: PublicKey | None = None
    owner_id: str = ACTOR_ID
    fresh: bool = False
    calls: list[tuple[str, bool]] = field(default_factory=list)

    async def __call__(self, key_id: str, *, refresh: bool) -> ResolvedKey:
        self.calls.append((key_id, refresh))
        key = self.refreshed if refresh else self.cached
        if key is None:
            raise KeyUnavailableError("no such key")
        return ResolvedKey(key_id=key_id, owner_id=self.owner_id, public_key=key, fresh=self.fresh)
