"""Who reads our ActivityPub documents, and the one way to serve one (decisions 0010, 0011).

Every ActivityStreams response is made by ``Reader.respond``, and a ``Reader`` comes only from
``authorize_read`` (posts, activities, collections), ``authorize_key_read`` (actor documents) or
``anyone`` (the instance actor) below: no URL can serve a document that skipped the check.

A signature on a GET is checked only when it matters (authorized fetch is on, or the object is not
public), so a public note costs no RSA verification or key fetch. With authorized fetch
(``REVERIE_AUTHORIZED_FETCH``, Mastodon's secure mode) every AS2 GET must be signed (401 otherwise)
except actor documents and the instance actor: a peer needs our key before it can verify anything we
sign, and a peer that in turn requires signed fetches would otherwise wait on us forever (GoToSocial's
handshake deadlock). Signers from blocked domains get 403; a signer the owner blocks gets the 404 of a
missing object (and an actor document without the profile, as an unsigned reader does). A signature
made for another server's host is refused (401) like any other bad signature.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from activitypub.errors import ActivityPubError
from activitypub.signatures import detect_signature_scheme, verify_request
from fediverse.core.audience import blocks, is_blocked_by
from fediverse.core.domain_blocks import blocked_hosts
from fediverse.core.errors import Forbidden, NotFound, ReverieError, Unauthorized
from fediverse.federation.actors_in import host_of
from fediverse.federation.resolve import find_actor
from fediverse.services import Services
from fediverse.web.activitypub.inbox import request_target
from fediverse.web.anonymous_cache import KEEP, SHAREABLE, VALIDATE
from fediverse.web.responses import AS2_CONTENT_TYPE, dump_json
from storage.models import Actor

#: Responses that depend on who signed must not be shared by caches between readers.
PRIVATE_CACHING = {"Cache-Control": "private, max-age=60", "Vary": "Accept, Signature"}
#: The same for everyone (the URL also serves HTML, hence ``Vary: Accept``).
PUBLIC_CACHING = {"Cache-Control": "max-age=60, public", "Vary": "Accept"}
#: ``PUBLIC_CACHING`` with an ETag; and, kept, reused for the next anonymous reader (``anonymous_cache``).
VALIDATED_CACHING = {**PUBLIC_CACHING, SHAREABLE: VALIDATE}
KEPT_CACHING = {**PUBLIC_CACHING, SHAREABLE: KEEP}

_UNVERIFIED = object()
_ISSUED = object()


class _ActivityResponse(Response):
    media_type = AS2_CONTENT_TYPE

    def render(self, content: Any) -> bytes:
        return dump_json(content)


class Reader:
    """Whom a document goes to, as settled by this module: a verified remote actor, or nobody.

    ``private``: the answer depends on who asked (authorized fetch is on, a signer is known, or the
    document is not for everyone), so shared caches must not keep it.
    """

    __slots__ = ("actor", "private")

    def __init__(self, actor: Actor | None, *, private: bool, issued_by: object) -> None:
        if issued_by is not _ISSUED:
            raise TypeError("a Reader comes from authorize_read, authorize_key_read or anyone")
        self.actor = actor
        self.private = private

    def respond(self, document: dict[str, Any], *, status_code: int = 200, keep: bool = False) -> Response:
        """The document as AS2. Unless ``private`` it carries an ``ETag`` (``If-None-Match`` answers 304);
        ``keep``: this process may also reuse it for the next anonymous reader for a few seconds (only for
        documents whose changes bump a ``storage.cache`` name: actors, notes, outboxes)."""
        headers = PRIVATE_CACHING if self.private else KEPT_CACHING if keep else VALIDATED_CACHING
        return _ActivityResponse(document, status_code=status_code, headers=headers)


async def verify_fetcher(request: Request) -> Actor | None:
    """The actor whose valid signature is on this GET, ``None`` when unsigned.

    A signature that does not verify raises ``SignatureError`` (401), one from a blocked domain
    ``Forbidden``. The result is kept on the request, so asking twice costs one verification.
    """
    known = getattr(request.state, "fetcher", _UNVERIFIED)
    if known is not _UNVERIFIED:
        return cast("Actor | None", known)  # request.state holds what this function stored there
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
    """Authorized fetch's gate alone: with it on, the verified fetcher (401 when unsigned); with it off,
    ``None`` without looking at any signature. Routes call it before looking anything up, so an
    unsigned probe learns nothing about what exists; ``authorize_read`` calls it again for free."""
    services: Services = request.state.services
    if not services.settings.authorized_fetch:
        return None
    fetcher = await verify_fetcher(request)
    if fetcher is None:
        raise Unauthorized("This server requires signed requests (authorized fetch).")
    return fetcher


async def _identify(request: Request) -> Actor | None:
    """The fetcher where a bad signature counts as none (the caller answers 404 either way)."""
    try:
        return await verify_fetcher(request)
    except (ActivityPubError, ReverieError):
        return None


async def _blocks(request: Request, session: AsyncSession | None, owner_id: int, reader: Actor) -> bool:
    if session is not None:
        return await is_blocked_by(session, owner_id, reader)
    services: Services = request.state.services
    return await services.db.read(lambda own_session: blocks(own_session, owner_id, reader.id))


async def authorize_read(
    request: Request, owner_id: int, *, public: bool, session: AsyncSession | None = None
) -> Reader:
    """The check before serving anything of the local actor ``owner_id`` but its actor document: its
    posts, activities and collections. ``public``: the document is for everyone (a public or unlisted
    post, an activity addressed to the public, a collection).

    With authorized fetch, only a verified signer is served (401 unsigned or badly signed, 403 from a
    blocked domain). Without it, a signature is looked at only for a non-public document, and a bad
    one counts as none. A signer the owner blocks gets ``NotFound``. Who may see a non-public post is
    ``fediverse.core.audience``'s, asked with ``Reader.actor`` afterwards. ``session``: one the caller
    holds, for the block lookup (pass it only after ``authorize_fetch``, or for a public document:
    a signature check may fetch a key, which must not hold a connection).
    """
    services: Services = request.state.services
    authorized_fetch = services.settings.authorized_fetch
    if authorized_fetch:
        fetcher = await authorize_fetch(request)
    else:
        fetcher = None if public else await _identify(request)
    if fetcher is not None and fetcher.id != owner_id and await _blocks(request, session, owner_id, fetcher):
        raise NotFound("Nothing here.")
    return Reader(fetcher, private=authorized_fetch or fetcher is not None or not public, issued_by=_ISSUED)


async def authorize_key_read(request: Request, owner_id: int) -> Reader:
    """The check before serving a local actor's document. It is never refused (peers need the key),
    but with authorized fetch ``Reader.actor`` is ``None`` (serve the barebones document) for anyone but
    a verified signer whom the owner does not block."""
    services: Services = request.state.services
    if not services.settings.authorized_fetch:
        return Reader(None, private=False, issued_by=_ISSUED)
    fetcher = await _identify(request)
    if fetcher is not None and fetcher.id != owner_id and await _blocks(request, None, owner_id, fetcher):
        fetcher = None
    return Reader(fetcher, private=True, issued_by=_ISSUED)


def anyone() -> Reader:
    """For the instance actor only: every peer needs it, whatever the settings, and it owns nothing."""
    return Reader(None, private=False, issued_by=_ISSUED)
