"""Keys: remote actors' public keys for verifying requests, local actors' private keys for signing.

Both are cached in memory once loaded (parsing a PEM costs more than verifying with it); the database
and the remote actor document stay the source of truth.
"""

from __future__ import annotations

from collections import OrderedDict

from sqlalchemy import select

from activitypub.errors import InvalidDocumentError, KeyUnavailableError
from activitypub.keys import PrivateKey, PublicKey, load_private_key, load_public_key
from activitypub.signatures import ResolvedKey
from fediverse.federation.resolve import Resolver
from storage.db import Database
from storage.models import Keypair

MAX_CACHED_KEYS = 10_000


class KeyStore:
    def __init__(self, db: Database, resolver: Resolver, *, max_cached: int = MAX_CACHED_KEYS) -> None:
        self.db = db
        self.resolver = resolver
        self.max_cached = max_cached
        self._public: OrderedDict[str, tuple[str, PublicKey]] = OrderedDict()
        self._private: dict[int, tuple[str, PrivateKey]] = {}

    async def resolve(self, key_id: str, *, refresh: bool) -> ResolvedKey:
        """The ``KeyResolver`` for ``activitypub.signatures.verify_request``: owner and public key of
        ``key_id``; ``refresh`` fetches the owner's document again (key rotation)."""
        cached = None if refresh else self._public.get(key_id)
        if cached is not None:
            self._public.move_to_end(key_id)
            return ResolvedKey(key_id=key_id, owner_id=cached[0], public_key=cached[1])
        actor = await self.resolver.actor_for_key(key_id, refresh=refresh)
        try:
            # No key (a deleted account) or one that does not parse (a damaged Update{Person}): ask its
            # owner's server once more before giving up.
            public_key = load_public_key(actor.public_key_pem or "")
        except InvalidDocumentError:
            if refresh:
                raise KeyUnavailableError("the key's owner has no usable public key", detail=key_id) from None
            return await self.resolve(key_id, refresh=True)
        self._public[key_id] = (actor.ap_id, public_key)
        while len(self._public) > self.max_cached:
            self._public.popitem(last=False)
        return ResolvedKey(key_id=key_id, owner_id=actor.ap_id, public_key=public_key, fresh=refresh)

    def forget(self, key_id: str | None) -> None:
        """Drop a cached public key, e.g. after its owner sent an Update (the key may have rotated)."""
        if key_id is not None:
            self._public.pop(key_id, None)

    async def signing_key(self, actor_id: int) -> tuple[str, PrivateKey]:
        """``(key_id, private_key)`` of a local actor."""
        cached = self._private.get(actor_id)
        if cached is not None:
            return cached
        async with self.db.session() as session:
            keypair = await session.scalar(
                select(Keypair).where(Keypair.actor_id == actor_id).order_by(Keypair.id.desc())
            )
        if keypair is None:
            raise LookupError(f"local actor {actor_id} has no key")
        loaded = (keypair.key_id, load_private_key(keypair.private_key_pem))
        self._private[actor_id] = loaded
        return loaded
