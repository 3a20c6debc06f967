"""``/api/v1/statuses``: posting, reading, editing and deleting statuses, and a status's history, source
and conversation (docs/client-api.md).

Posting goes through the studio's ``publish_composition`` (drafts, generated images, the AI tag, a hidden
prompt) and ``actions.publish``, editing through ``actions.edit_post`` (``Update{Note}``, the old version kept
as a ``PostEdit``), deleting through ``actions.delete_post``: the same code as our own pages. What those
refuse as content (too long, empty, an image that is not the caller's draft) answers 422, as Mastodon's
validation errors do. A status the caller may not see is a 404, never a 403.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse.core.errors import BadRequest, NotFound, UnprocessableEntity
from fediverse.core.text import MAX_CAPTION_LENGTH
from fediverse.core.visibility import may_see
from fediverse.federation.sanitize import html_to_text
from fediverse.reads.post_views import WITHOUT_RAW_ACTOR, WITHOUT_RAW_POST
from fediverse.reads.threads import ancestors, descendants
from fediverse.reads.timelines import Entry
from fediverse.services import Services
from fediverse.social import actions
from fediverse.studio.drafts import MAX_ALT_TEXT
from fediverse.studio.publishing import Composition, publish_composition
from fediverse.web.client_api.auth import optional_user, require_user
from fediverse.web.client_api.entities import Json, plain_post, status_edit, visibility_in
from fediverse.web.client_api.errors import RecordNotFound
from fediverse.web.client_api.media import read_focus
from fediverse.web.client_api.params import Params, query_params, read_params
from fediverse.web.client_api.status_views import render_status, render_statuses
from fediverse.web.params import path_id
from fediverse.web.responses import JSONResponse
from storage.dialects import insert_for
from storage.models import Account, Actor, Announce, IdempotencyKey, Media, Post, PostEdit, PostMedia
from storage.types import utcnow

#: Mastodon's language codes: ISO 639 (two or three letters), perhaps with a region or script.
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
_KEY_LENGTH = 255


@dataclass(frozen=True)
class Target:
    """What a status id names: a post, or someone's boost of it (a boost's status id is its ``Announce``'s)."""

    post: Post
    boost: Announce | None = None

    @property
    def entry(self) -> Entry:
        if self.boost is None:
            return Entry(self.post.id, self.post.id)
        return Entry(self.boost.id, self.post.id, self.boost.actor_id)


_POST = select(Post).where(col(Post.id) == bindparam("id")).options(WITHOUT_RAW_POST)
_BOOST = select(Announce).where(col(Announce.id) == bindparam("id"))


def visible_target(session: Session, status_id: int, viewer: Account | None) -> Target:
    """The post (or boost) ``status_id`` names, if the viewer may see it (404 otherwise), in a unit of work."""
    post = session.scalar(_POST, {"id": status_id})
    boost = None
    if post is None:
        boost = session.scalar(_BOOST, {"id": status_id})
        post = session.scalar(_POST, {"id": boost.post_id}) if boost is not None else None
    if post is None or not may_see(session, post, viewer.actor_id if viewer else None):
        raise RecordNotFound()
    return Target(post, boost)


async def find_status(request: Request, viewer: Account | None) -> Target:
    """The status in the path (``{id:id}``) as the viewer may see it."""
    services: Services = request.state.services
    status_id = path_id(request)
    return await services.db.read(lambda session: visible_target(session, status_id, viewer))


async def own_post(request: Request, account: Account) -> Post:
    """The caller's own post in the path; anyone else's is not found, as in Mastodon."""
    target = await find_status(request, account)
    if target.boost is not None or target.post.author_id != account.actor_id:
        raise RecordNotFound()
    return target.post


# -- posting ------------------------------------------------------------------------------------------


def _refuse_unsupported(params: Params) -> None:
    if "poll" in params:
        raise UnprocessableEntity("Polls are not supported on this server.")
    if params.text("scheduled_at"):
        raise UnprocessableEntity("Scheduled posts are not supported on this server.")


def _language(params: Params) -> str | None:
    """A language code as given, or English when there is none or it is no code (Mastodon falls back too)."""
    language = (params.text("language") or "").strip()
    return language if _LANGUAGE.match(language) else "en"


def _visibility(params: Params) -> str:
    name = params.text("visibility") or "public"
    visibility = visibility_in(name)
    if visibility is None:
        raise UnprocessableEntity("Visibility must be one of public, unlisted, private or direct.")
    return visibility


async def _composition(services: Services, account: Account, params: Params) -> Composition:
    """``POST /api/v1/statuses``'s parameters as what our composer sends (with the Reverie extras in
    ``reverie[…]``: mood_emoji, mood_word, hide_prompt)."""
    _refuse_unsupported(params)
    extras = params.object("reverie")
    parent_id = params.id("in_reply_to_id")
    parent: Post | None = None
    if parent_id is not None:
        parent = (await services.db.read(lambda session: visible_target(session, parent_id, account))).post
    return Composition(
        media_ids=tuple(params.ids("media_ids")),
        caption=params.text("status", max_length=MAX_CAPTION_LENGTH) or "",
        mood_emoji=extras.text("mood_emoji") or "",
        mood_word=extras.text("mood_word") or "",
        content_warning=params.text("spoiler_text") or "",
        sensitive=params.flag("sensitive") or False,
        visibility=_visibility(params),
        hide_prompt=extras.flag("hide_prompt") or False,
        in_reply_to=parent.ap_id if parent is not None else None,
        language=_language(params),
    )


def _idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header (a key longer than the column holds is kept as its digest)."""
    key = request.headers.get("idempotency-key", "").strip()
    if not key:
        return None
    return key if len(key) <= _KEY_LENGTH else hashlib.sha256(key.encode()).hexdigest()


def _posted_with(session: Session, account_id: int, key: str) -> Post | None:
    row = session.get(IdempotencyKey, (account_id, key))
    if row is None:
        return None
    post = session.scalar(_POST, {"id": row.post_id})
    return post if post is not None and post.deleted_at is None else None


def _remember_key(session: Session, account_id: int, key: str, post_id: int) -> None:
    """Remember which post a key made (a key reused after its post was deleted now names the new one)."""
    dialect_insert = insert_for(session.get_bind().dialect.name)
    statement = dialect_insert(IdempotencyKey).values(
        account_id=account_id, key=key, post_id=post_id, created_at=utcnow()
    )
    session.execute(statement.on_conflict_do_update(index_elements=["account_id", "key"], set_={"post_id": post_id}))


async def create_status(request: Request) -> Response:
    account = await require_user(request, "write:statuses")
    services: Services = request.state.services
    params = await read_params(request)
    key = _idempotency_key(request)
    account_id = account.id or 0
    if key is not None:
        earlier = await services.db.read(lambda session: _posted_with(session, account_id, key))
        if earlier is not None:
            return JSONResponse(await render_status(services, account, earlier))
    composition = await _composition(services, account, params)
    try:
        post = await publish_composition(services, account, composition)
    except BadRequest as error:  # what the composer refuses, for clients a validation error
        raise UnprocessableEntity(str(error)) from error
    if key is not None:
        await services.db.write(lambda session: _remember_key(session, account_id, key, post.id))
    return JSONResponse(await render_status(services, account, post))


# -- reading ------------------------------------------------------------------------------------------


async def show_status(request: Request) -> Response:
    viewer = await optional_user(request)
    services: Services = request.state.services
    target = await find_status(request, viewer)
    (found,) = await render_statuses(services, viewer, [target.entry])
    return JSONResponse(found)


async def show_statuses(request: Request) -> Response:
    """``GET /api/v1/statuses?id[]=…``: those of the statuses the caller may see, in the order asked."""
    viewer = await optional_user(request)
    services: Services = request.state.services
    wanted = query_params(request).ids("id")[:40]

    def load(session: Session) -> list[Entry]:
        found = []
        for status_id in dict.fromkeys(wanted):
            try:
                found.append(visible_target(session, status_id, viewer).entry)
            except NotFound:
                continue
        return found

    return JSONResponse(await render_statuses(services, viewer, await services.db.read(load)))


def _source_text(post: Post) -> str:
    return plain_post(post) if post.is_local else html_to_text(post.content_html)


async def status_source(request: Request) -> Response:
    viewer = await optional_user(request)
    post = (await find_status(request, viewer)).post
    return JSONResponse({"id": str(post.id), "text": _source_text(post), "spoiler_text": post.summary or ""})


async def status_context(request: Request) -> Response:
    """Ancestors (oldest first) and descendants (in thread order) the caller may see."""
    viewer = await optional_user(request)
    services: Services = request.state.services
    status_id = path_id(request)
    viewer_actor_id = viewer.actor_id if viewer else None

    def load(session: Session) -> tuple[list[Entry], list[Entry]]:
        post = visible_target(session, status_id, viewer).post
        above = [Entry(parent.id, parent.id) for parent in ancestors(session, post, viewer_actor_id)]
        below = [Entry(reply_id, reply_id) for reply_id, _ in descendants(session, post, viewer_actor_id)]
        return above, below

    above, below = await services.db.read(load)
    rendered = await render_statuses(services, viewer, [*above, *below])
    above_ids = {str(entry.entry_id) for entry in above}
    return JSONResponse(
        {
            "ancestors": [item for item in rendered if item["id"] in above_ids],
            "descendants": [item for item in rendered if item["id"] not in above_ids],
        }
    )


_VERSIONS = select(PostEdit).where(col(PostEdit.post_id) == bindparam("id")).order_by(col(PostEdit.id))
_CURRENT_MEDIA = (
    select(Media)
    .join(PostMedia, col(PostMedia.media_id) == col(Media.id))
    .where(col(PostMedia.post_id) == bindparam("id"))
    .order_by(col(PostMedia.position))
)
_MEDIA = select(Media).where(col(Media.id).in_(bindparam("ids", expanding=True)))
_AUTHOR = select(Actor).where(col(Actor.id) == bindparam("id")).options(WITHOUT_RAW_ACTOR)


def _history(session: Session, services: Services, status_id: int, viewer: Account | None) -> list[Json]:
    post = visible_target(session, status_id, viewer).post
    author = session.scalar(_AUTHOR, {"id": post.author_id})
    assert author is not None
    versions = list(session.scalars(_VERSIONS, {"id": post.id}))
    earlier_ids = [item["id"] for version in versions for item in version.media or [] if isinstance(item, dict)]
    media = {item.id: item for item in session.scalars(_MEDIA, {"ids": earlier_ids})} if earlier_ids else {}
    history = [
        status_edit(
            author,
            services.urls,
            content=version.content_html,
            spoiler_text=version.summary,
            sensitive=version.sensitive,
            created_at=version.created_at,
            media=[
                (media[item["id"]], str(item.get("description") or ""))
                for item in version.media or []
                if isinstance(item, dict) and item.get("id") in media
            ],
        )
        for version in versions
    ]
    current = list(session.scalars(_CURRENT_MEDIA, {"id": post.id}))
    history.append(
        status_edit(
            author,
            services.urls,
            content=post.content_html,
            spoiler_text=post.summary,
            sensitive=post.sensitive,
            created_at=post.edited_at or post.published,
            media=[(item, item.alt_text) for item in current],
        )
    )
    return history


async def status_history(request: Request) -> Response:
    """Every version of the status, oldest first, the current one last (one entry when never edited)."""
    viewer = await optional_user(request)
    services: Services = request.state.services
    status_id = path_id(request)
    return JSONResponse(await services.db.read(lambda session: _history(session, services, status_id, viewer)))


# -- changing -----------------------------------------------------------------------------------------


async def delete_status(request: Request) -> Response:
    """Delete one's own post; the answer carries its ``text`` so a client can redraft it. A status id of
    one's own boost undoes the boost."""
    account = await require_user(request, "write:statuses")
    services: Services = request.state.services
    target = await find_status(request, account)
    if target.boost is not None and target.boost.actor_id == account.actor_id:
        (rendered,) = await render_statuses(services, account, [target.entry])
        await actions.unboost(services, account.username, target.post.ap_id)
        return JSONResponse(rendered)
    if target.boost is not None or target.post.author_id != account.actor_id:
        raise RecordNotFound()
    post = target.post
    rendered = {**await render_status(services, account, post), "text": _source_text(post)}
    await actions.delete_post(services, account.username, post.ap_id)
    return JSONResponse(rendered)


async def _current_media_ids(services: Services, post: Post) -> list[int]:
    return await services.db.read(
        lambda session: [item.id or 0 for item in session.scalars(_CURRENT_MEDIA, {"id": post.id})]
    )


async def edit_status(request: Request) -> Response:
    """``PUT /api/v1/statuses/:id``: text, content warning, sensitivity, and the alt texts and focal points of
    the attached images (``media_attributes[]``). The images themselves stay: ``media_ids`` may only name
    the attached ones."""
    account = await require_user(request, "write:statuses")
    services: Services = request.state.services
    post = await own_post(request, account)
    params = await read_params(request)
    if "poll" in params:
        raise UnprocessableEntity("Polls are not supported on this server.")
    attached = await _current_media_ids(services, post)
    if "media_ids" in params and set(params.ids("media_ids")) != set(attached):
        raise UnprocessableEntity("Adding or removing images in an edit is not supported; edit their descriptions.")
    alt_texts: dict[int, str] = {}
    focal_points: dict[int, tuple[float, float]] = {}
    for attributes in params.objects("media_attributes"):
        media_id = attributes.id("id")
        if media_id is None or media_id not in attached:
            raise UnprocessableEntity("media_attributes names an image that is not in this post.")
        description = attributes.text("description", max_length=MAX_ALT_TEXT)
        if description is not None:
            alt_texts[media_id] = description
        focus = read_focus(attributes.raw("focus"))
        if focus is not None:
            focal_points[media_id] = focus
    text = params.text("status", max_length=MAX_CAPTION_LENGTH)
    spoiler_text = params.text("spoiler_text")
    sensitive = params.flag("sensitive")
    try:
        await actions.edit_post(
            services,
            account.username,
            post.ap_id,
            caption=text if text is not None else (post.source_text or ""),
            content_warning=spoiler_text if spoiler_text is not None else (post.summary or ""),
            sensitive=sensitive if sensitive is not None else post.sensitive,
            alt_texts=alt_texts,
            focal_points=focal_points,
        )
    except BadRequest as error:
        raise UnprocessableEntity(str(error)) from error
    return JSONResponse(await render_status(services, account, post))


async def mute_conversation(request: Request) -> Response:
    await find_status(request, await require_user(request, "write:mutes"))
    raise UnprocessableEntity("Muting conversations is not supported on this server.")


async def pin_status(request: Request) -> Response:
    account = await require_user(request, "write:accounts")
    await own_post(request, account)
    raise UnprocessableEntity("Pinning posts is not supported on this server.")


async def unchanged_status(request: Request) -> Response:
    """``unmute`` and ``unpin``: nothing is ever muted or pinned here, so the status is answered as it is."""
    scope = "write:accounts" if request.url.path.endswith("/unpin") else "write:mutes"
    account = await require_user(request, scope)
    services: Services = request.state.services
    target = await find_status(request, account)
    (found,) = await render_statuses(services, account, [target.entry])
    return JSONResponse(found)


routes: list[BaseRoute] = [
    Route("/api/v1/statuses", create_status, methods=["POST"]),
    Route("/api/v1/statuses", show_statuses, methods=["GET"]),
    Route("/api/v1/statuses/{id:id}", show_status, methods=["GET"]),
    Route("/api/v1/statuses/{id:id}", delete_status, methods=["DELETE"]),
    Route("/api/v1/statuses/{id:id}", edit_status, methods=["PUT"]),
    Route("/api/v1/statuses/{id:id}/source", status_source, methods=["GET"]),
    Route("/api/v1/statuses/{id:id}/context", status_context, methods=["GET"]),
    Route("/api/v1/statuses/{id:id}/history", status_history, methods=["GET"]),
    Route("/api/v1/statuses/{id:id}/mute", mute_conversation, methods=["POST"]),
    Route("/api/v1/statuses/{id:id}/unmute", unchanged_status, methods=["POST"]),
    Route("/api/v1/statuses/{id:id}/pin", pin_status, methods=["POST"]),
    Route("/api/v1/statuses/{id:id}/unpin", unchanged_status, methods=["POST"]),
]
