"""Signed GETs: who is fetching, and authorized fetch (``REVERIE_AUTHORIZED_FETCH``, Mastodon's secure mode).

A signature on a GET is checked only when it matters (authorized fetch is on, or the object is not
public), so a public note costs no RSA verification or key fetch. With authorized fetch every AS2 GET
must be signed (401 otherwise) except actor documents and the instance actor: a peer needs our key
before it can verify anything we sign, and a peer that in turn requires signed fetches would otherwise
wait on us forever (GoToSocial's handshake deadlock). Signers from blocked domains get 403. A signature
made for another server's host is refused (401) like any other bad signature.
"""

from __future__ import annotations

from starlette.requests import Request

from activitypub.errors import ActivityPubError
from activitypub.signatures import detect_signature_scheme, verify_request
from fediverse.errors import Forbidden, ReverieError, Unauthorized
from fediverse.federation.actors_in import host_of
from fediverse.federation.resolve import find_actor
from fediverse.moderation import blocked_hosts
from fediverse.routes.inbox import request_target
from fediverse.services import Services
from storage.models import Actor

#: Responses that depend on who signed must not be shared by caches between readers.
PRIVATE_CACHING = {"Cache-Control": "private, max-age=60", "Vary": "Accept, Signature"}

_UNVERIFIED = object()


async def verify_fetcher(request: Request) -> Actor | None:
    """The actor whose valid signature is on this GET, ``None`` when unsigned.

    A signature that does not verify raises ``SignatureError`` (401). The result is kept on the request,
    so a handler may ask twice at the cost of one verification.
    """
    known = getattr(request.state, "fetcher", _UNVERIFIED)
    if known is not _UNVERIFIED:
        return known  # type: ignore[no-any-return]
    fetcher = None
    if detect_signature_scheme(request.headers) is not None:
        services: Services = request.state.services
        verified = await verify_request(
            request.method,
            request_target(request),
            request.headers,
            b"",
            resolve_key=services.keys.resolve,
            scheme=request.url.scheme,
            expected_host=services.settings.host,
        )
        async with services.db.session() as session:
            if await blocked_hosts(session, [host_of(verified.owner_id)]):
                raise Forbidden("This server does not serve your domain.")
            # Resolving the key stored its owner; a read must not wait on refreshing a stale profile.
            fetcher = await find_actor(session, verified.owner_id)
        if fetcher is None:
            fetcher = await services.resolver.actor(verified.owner_id)
    request.state.fetcher = fetcher
    return fetcher


async def authorize_fetch(request: Request) -> Actor | None:
    """Enforce authorized fetch on an AS2 GET: with it on, the verified fetcher (401 when unsigned);
    with it off, ``None`` without looking at any signature."""
    services: Services = request.state.services
    if not services.settings.authorized_fetch:
        return None
    fetcher = await verify_fetcher(request)
    if fetcher is None:
        raise Unauthorized("This server requires signed requests (authorized fetch).")
    return fetcher


async def identify_reader(request: Request) -> Actor | None:
    """The fetcher, for deciding whether a non-public object may be shown. A bad signature counts as no
    signature here: the caller answers 404 either way, so a probe learns nothing about what exists."""
    try:
        return await verify_fetcher(request)
    except (ActivityPubError, ReverieError):
        return None


async def is_signed_fetch(request: Request) -> bool:
    """Whether an actor document request carries a valid signature. Never raises: actor documents must
    stay readable to anyone who needs our key."""
    try:
        return await verify_fetcher(request) is not None
    except (ActivityPubError, ReverieError):
        return False
