"""Pre-made RSA key pairs for the suite, so that accounts and fake peers do not each pay for a fresh one.

A new RSA-2048 key costs 50-100 ms and the suite makes hundreds of accounts. ``tests/data/rsa_keys.pem``
(written by ``scripts/make_test_keys.py``; test fixtures, public on purpose) holds real keys: peers'
actors take the first ``PEER_KEYS`` by index, shared across tests as a long-lived server's keys would
be; local accounts take the rest through ``LOCAL_KEYS``, every key distinct within a test (and a freshly
generated one should a test ever need more), so no two actors in a test can sign for each other.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from activitypub.keys import KeyPairPem, generate_rsa_key_pair, public_key_pem

KEYS_FILE = Path(__file__).resolve().parent / "data" / "rsa_keys.pem"
PEER_KEYS = 8
_END = "-----END PRIVATE KEY-----\n"


def _pair(private_pem: str) -> KeyPairPem:
    """Checking an RSA key costs as much as making one; these were checked when they were made."""
    key = load_pem_private_key(private_pem.encode(), None, unsafe_skip_rsa_key_validation=True)
    assert isinstance(key, rsa.RSAPrivateKey)
    return KeyPairPem(private_pem, public_key_pem(key.public_key()))


@cache
def premade_keys() -> tuple[KeyPairPem, ...]:
    return tuple(_pair(block + _END) for block in KEYS_FILE.read_text().split(_END) if block.strip())


def peer_key(index: int) -> KeyPairPem:
    """The key of a fake peer's actor ``index`` (``FakePeer.add_actor(..., key_index=index)``)."""
    assert index < PEER_KEYS, f"tests/keys.py sets aside {PEER_KEYS} peer keys"
    return premade_keys()[index]


class KeyPool:
    """Hands out pre-made key pairs, each once until ``reset``; then fresh ones. Safe across threads
    (accounts are made off the event loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0

    def reset(self) -> None:
        with self._lock:
            self._next = 0

    def __call__(self) -> KeyPairPem:
        local = premade_keys()[PEER_KEYS:]
        with self._lock:
            index, self._next = self._next, self._next + 1
        return local[index] if index < len(local) else generate_rsa_key_pair()


LOCAL_KEYS = KeyPool()
