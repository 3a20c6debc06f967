"""Our objects at their ids: notes, their ``Create``, their replies, and every other activity we sent.

Peers dereference what we send them (Mastodon refetches a note it was told about, GoToSocial re-reads a
forwarded one from its origin), so every id we mint answers here. ActivityPub clients get the document;
a browser at a note id is sent to its page, ``/@{name}/{id}``. A deleted note answers 410 with a
``Tombstone``. A followers-only or direct note is shown only to a signed request from an actor allowed
to read it (``fediverse.core.audience``); anyone else gets the same 404 as for a note that never existed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from activitypub.vocab import PUBLIC_ALIASES, audience, with_context
from fediverse.core.audience import OPEN_VISIBILITIES, may_read_activity, may_read_post
from fediverse.core.errors import NotFound
from fediverse.core.interaction_policy import LIKE, REPLY
from fediverse.federation.documents import collection_page, tombstone_document
from fediverse.federation.interaction_policies import AUTHORIZATION_PATHS, authorization_document
from fediverse.federation.notes import PostView, create_activity, note_document
from fediverse.federation.quotes import quote_authorization_document
from fediverse.reads.post_views import load_post_views, post_views
from fediverse.services import Services
from fediverse.web.activitypub.signed_fetch import Reader, authorize_fetch, authorize_read
from fediverse.web.params import path_id, query_id
from fediverse.web.responses import wants_activity_json
from storage.models import Account, Actor, Like, OutboxActivity, Post, QuoteAuthorization

REPLIES_PAGE_SIZE = 20


@dataclass(frozen=True)
class _Found:
    """A post the requester may read; ``view`` is ``None`` when it is gone (deleted, or its author is)."""

    post: Post
    view: PostView | None
    reader: Reader


_POST_AND_AUTHOR_STATE = (
    select(Post, col(Account.disabled_at))
    .outerjoin(Account, col(Account.actor_id) == col(Post.author_id))
    .where(col(Post.ap_id) == bindparam("ap_id"), col(Post.is_local).is_(True))
)


@dataclass(frozen=True)
class _Stored:
    post: Post
    author_disabled: bool
    #: The post's view, loaded in the same unit of work when it is open to anyone and not gone.
    view: PostView | None


def _open_to_anyone(post: Post) -> bool:
    """Public or unlisted, and not a reply still waiting for (or refused) its approval (decision 0063)."""
    return post.visibility in OPEN_VISIBILITIES and post.approval is None


def _stored_post(session: Session, ap_id: str, *, open_view: bool) -> _Stored | None:
    """The local post ``ap_id``, whether its author is disabled, and (``open_view``, for a public or unlisted
    post still standing) its view, in one unit of work."""
    row = session.execute(_POST_AND_AUTHOR_STATE, {"ap_id": ap_id}).first()
    if row is None:
        return None
    post, disabled = row
    standing = post.deleted_at is None and disabled is None
    view = post_views(session, [post])[0] if open_view and standing and _open_to_anyone(post) else None
    return _Stored(post, disabled is not None, view)


async def _find_post(request: Request, username: str, post_id: int) -> _Found:
    """The local post ``post_id`` of ``username`` if the requester may read it, else ``NotFound``.

    Without authorized fetch a public or unlisted post, the common case (peers and link previews), is
    read with its view in one unit of work (decision 0049); a non-public one is judged after the signature
    is checked (its key may have to be fetched, which must not hold a connection). With authorized fetch
    the signature is verified first, and one session does the rest.
    """
    services: Services = request.state.services
    await authorize_fetch(request)
    ap_id = services.urls.post_id(username, post_id)
    if services.settings.authorized_fetch:
        async with services.db.session() as session:
            row = (await session.execute(_POST_AND_AUTHOR_STATE, {"ap_id": ap_id})).first()
            if row is None:
                raise NotFound("No such post.")
            post, disabled = row
            reader = await authorize_read(request, post.author_id, public=_open_to_anyone(post), session=session)
            return await _readable(session, post, disabled is not None, reader)
    stored = await services.db.read(lambda session: _stored_post(session, ap_id, open_view=True))
    if stored is None:
        raise NotFound("No such post.")
    if _open_to_anyone(stored.post):
        # Anyone may read it: no signature is looked at, so there is no block to ask (authorize_read).
        reader = await authorize_read(request, stored.post.author_id, public=True)
        return _Found(stored.post, stored.view, reader)
    reader = await authorize_read(request, stored.post.author_id, public=False)
    async with services.db.session() as session:
        return await _readable(session, stored.post, stored.author_disabled, reader)


async def _readable(session: AsyncSession, post: Post, author_disabled: bool, reader: Reader) -> _Found:
    if not await may_read_post(session, post, reader.actor):
        raise NotFound("No such post.")
    gone = post.deleted_at is not None or author_disabled
    view = None if gone else (await load_post_views(session, [post]))[0]
    return _Found(post, view, reader)


def _gone(object_id: str, former_type: str, found: _Found) -> Response:
    document = tombstone_document(object_id, former_type, found.post.deleted_at)
    return found.reader.respond(document, status_code=410)


def _to_post_page(request: Request) -> Response:
    """Browsers go to the post's page; the redirect is the same whether or not the post exists."""
    services: Services = request.state.services
    url = services.urls.post_url(request.path_params["username"], path_id(request, "post_id"))
    return RedirectResponse(url, status_code=302, headers={"Vary": "Accept"})


async def note(request: Request) -> Response:
    if not wants_activity_json(request):
        return _to_post_page(request)
    return await note_response(request, request.path_params["username"], path_id(request, "post_id"))


async def note_response(request: Request, username: str, post_id: int) -> Response:
    """The Note (or its Tombstone) for an ActivityPub client, wherever it was asked for: at its id or
    at its page, ``/@{name}/{id}``."""
    found = await _find_post(request, username, post_id)
    if found.view is None:
        return _gone(found.post.ap_id, "Note", found)
    return found.reader.respond(with_context(note_document(found.view, request.state.services.urls)), keep=True)


async def note_activity(request: Request) -> Response:
    """The ``Create`` of a note (its id is the note id plus ``/activity``), built from the note as it is now."""
    if not wants_activity_json(request):
        return _to_post_page(request)
    found = await _find_post(request, request.path_params["username"], path_id(request, "post_id"))
    if found.view is None:
        return _gone(f"{found.post.ap_id}/activity", "Create", found)
    return found.reader.respond(create_activity(found.view, request.state.services.urls), keep=True)


async def replies(request: Request) -> Response:
    """Replies anyone may read, oldest first: a ``Collection`` whose embedded ``first`` page links the next
    by ``min_id`` (Mastodon's paging, which its "fetch all replies" walks)."""
    services: Services = request.state.services
    found = await _find_post(request, request.path_params["username"], path_id(request, "post_id"))
    replies_id = f"{found.post.ap_id}/replies"
    if found.view is None:
        return _gone(replies_id, "Collection", found)
    min_id = query_id(request, "min_id")
    query = (
        select(col(Post.id), col(Post.ap_id))
        .where(
            col(Post.in_reply_to_ap_id) == found.post.ap_id,
            col(Post.deleted_at).is_(None),
            col(Post.visibility).in_(list(OPEN_VISIBILITIES)),
            col(Post.approval).is_(None),
        )
        .order_by(col(Post.id))
        .limit(REPLIES_PAGE_SIZE)
    )
    if min_id is not None:
        query = query.where(col(Post.id) > min_id)
    async with services.db.session() as session:
        rows = (await session.execute(query)).all()
    page_id = f"{replies_id}?page=true" + (f"&min_id={min_id}" if min_id is not None else "")
    next_id = f"{replies_id}?page=true&min_id={rows[-1][0]}" if len(rows) == REPLIES_PAGE_SIZE else None
    page = collection_page(page_id, replies_id, [ap_id for _, ap_id in rows], next_page_id=next_id)
    if request.query_params.get("page") is None and min_id is None:
        return found.reader.respond(with_context({"id": replies_id, "type": "Collection", "first": page}))
    return found.reader.respond(with_context(page))


async def activity(request: Request) -> Response:
    """Any other activity one of our users sent (Follow, Like, Announce, Update, Undo, Accept, …), as sent.

    An activity that was later undone answers 410 with a ``Tombstone``.
    """
    services: Services = request.state.services
    await authorize_fetch(request)
    username = request.path_params["username"]
    ap_id = services.urls.activity_id(username, request.path_params["token"])
    async with services.db.session() as session:
        row = (
            await session.execute(
                select(OutboxActivity, Actor)
                .join(Actor, col(Actor.id) == col(OutboxActivity.actor_id))
                .where(col(OutboxActivity.ap_id) == ap_id, col(Actor.ap_id) == services.urls.actor_id(username))
            )
        ).first()
    if row is None:
        raise NotFound("No such activity.")
    stored, owner = row
    assert owner.id is not None
    reader = await authorize_read(request, owner.id, public=bool(audience(stored.payload) & PUBLIC_ALIASES))
    async with services.db.session() as session:
        if not await may_read_activity(session, stored.payload, owner, reader.actor):
            raise NotFound("No such activity.")
        undone = await session.scalar(
            select(col(OutboxActivity.id))
            .where(
                col(OutboxActivity.type) == "Undo",
                col(OutboxActivity.object_ap_id) == ap_id,
                col(OutboxActivity.actor_id) == owner.id,
            )
            .limit(1)
        )
    if undone is not None:
        return reader.respond(tombstone_document(ap_id, stored.type, None), status_code=410)
    return reader.respond(stored.payload)


async def quote_authorization(request: Request) -> Response:
    """A ``QuoteAuthorization`` one of our users issued (FEP-044f, decision 0064): public, as Mastodon serves
    them, so the quoting server and its readers can check a quote; 410 once withdrawn (the quoted post was
    deleted)."""
    services: Services = request.state.services
    await authorize_fetch(request)
    username = request.path_params["username"]
    authorization_id = path_id(request, "authorization_id")
    async with services.db.session() as session:
        row = (
            await session.execute(
                select(QuoteAuthorization, Post)
                .join(Post, col(Post.id) == col(QuoteAuthorization.quoted_post_id))
                .where(col(QuoteAuthorization.id) == authorization_id)
            )
        ).first()
    ap_id = services.urls.quote_authorization_id(username, authorization_id)
    author_id = services.urls.actor_id(username)
    if row is None or not row[1].ap_id.startswith(author_id + "/"):
        raise NotFound("No such authorization.")
    granted, quoted = row
    reader = await authorize_read(request, quoted.author_id, public=True)
    if granted.revoked_at is not None or quoted.deleted_at is not None:
        return reader.respond(tombstone_document(ap_id, "QuoteAuthorization", granted.revoked_at), status_code=410)
    document = quote_authorization_document(ap_id, author_id, granted.quoting_ap_id, quoted.ap_id)
    return reader.respond(with_context(document))


async def authorization(request: Request) -> Response:
    """An approval of a remote account's reply or like of one of our posts (the ``result`` of the ``Accept``
    we sent; GoToSocial dereferences it to check an ``approvedBy``, decision 0063). It names only the
    interaction and the post, so it is served as a public document."""
    services: Services = request.state.services
    await authorize_fetch(request)
    username = request.path_params["username"]
    kind = {path: kind for kind, path in AUTHORIZATION_PATHS.items()}.get(request.path_params["kind"])
    row_id = path_id(request, "row_id")
    found: tuple[str | None, str, int] | None = None
    async with services.db.session() as session:
        if kind == LIKE:
            like = await session.get(Like, row_id)
            liked = await session.get(Post, like.post_id) if like is not None else None
            if like is not None and liked is not None:
                found = (like.ap_id, liked.ap_id, liked.author_id)
        elif kind == REPLY:
            reply = await session.get(Post, row_id)
            parent = await session.get(Post, reply.in_reply_to_id) if reply and reply.in_reply_to_id else None
            if reply is not None and parent is not None and reply.deleted_at is None:
                found = (reply.ap_id, parent.ap_id, parent.author_id)
        owner = await session.get(Actor, found[2]) if found else None
    if kind is None or found is None or owner is None or not owner.is_local or owner.username != username:
        raise NotFound("No such authorization.")
    assert owner.id is not None
    interaction_id, target_id, _ = found
    reader = await authorize_read(request, owner.id, public=True)
    authorization_id = services.urls.authorization_id(username, request.path_params["kind"], row_id)
    return reader.respond(
        with_context(authorization_document(kind, authorization_id, owner.ap_id, interaction_id or "", target_id))
    )


routes = [
    Route("/users/{username}/statuses/{post_id:id}", note),
    Route("/users/{username}/statuses/{post_id:id}/activity", note_activity),
    Route("/users/{username}/statuses/{post_id:id}/replies", replies),
    Route("/users/{username}/activities/{token}", activity),
    Route("/users/{username}/quote_authorizations/{authorization_id:id}", quote_authorization),
    Route("/users/{username}/authorizations/{kind}/{row_id:id}", authorization),
]
