"""The compose page, and the plain forms behind it: uploading a picture, publishing pictures, and
publishing text, mood and reply posts.

With JavaScript the page generates, uploads and publishes through the JSON API (``/api/…``). Without
it, ``POST /compose/upload`` stores a picture as a draft and returns to ``/compose?media=ID``, which
shows it; ``POST /compose/pictures`` publishes the attached drafts, ``POST /compose/text`` the rest.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitypub.errors import ActivityPubError
from fediverse.core.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    ReverieError,
    TooManyRequests,
    UnsupportedMediaType,
)
from fediverse.core.ids import parse_id
from fediverse.core.text import MAX_CAPTION_LENGTH, extract_mentions
from fediverse.core.visibility import can_see
from fediverse.reads.cards import post_path
from fediverse.services import Services
from fediverse.social import actions
from fediverse.social.posts import MAX_ATTACHMENTS, MAX_CONTENT_WARNING_LENGTH, MAX_MOOD_WORD_LENGTH, PostDraft
from fediverse.studio.drafts import MAX_ALT_TEXT, create_upload, load_own_drafts, media_json
from fediverse.studio.publishing import Composition, publish_composition
from fediverse.web.pages.forms import (
    check_form_csrf,
    checkbox,
    htmx_redirect,
    see_other,
    signed_in_form,
    text_field,
)
from fediverse.web.params import form_ids
from fediverse.web.rendering import render_page
from fediverse.web.sessions import current_account, require_account
from fediverse.web.uploads import ACCEPTED_TYPES, MAX_IMAGE_BYTES, read_upload, read_upload_form
from storage.models import Account, Actor, Media, Post, Visibility

MOODS = [
    ("🌙", "dreamy"),
    ("☀️", "bright"),
    ("🌧️", "melancholy"),
    ("🌿", "calm"),
    ("🔥", "fierce"),
    ("✨", "wonder"),
    ("🌊", "drifting"),
    ("🍂", "nostalgic"),
]
MAX_MENTIONS = 10


#: What a failed upload says on the page instead of an error page (nothing was stored).
_UPLOAD_ERRORS = (BadRequest, PayloadTooLarge, UnsupportedMediaType, TooManyRequests)


async def compose_page(request: Request) -> Response:
    account = await current_account(request)
    if account is None:
        return see_other("/login?next=/compose")
    return await _render_compose(request, account, form_ids(request.query_params.getlist("media"), "media"))


async def _render_compose(
    request: Request, account: Account, media_ids: list[int], *, upload_error: str = "", status_code: int = 200
) -> Response:
    """The page, with the account's drafts among ``media_ids`` attached (uploads made without JavaScript)."""
    services: Services = request.state.services
    drafts = await load_own_drafts(services.db, account, media_ids[:MAX_ATTACHMENTS])
    attachments = [_attachment(media_json(item, services.urls), drafts) for item in drafts]
    return await render_page(
        request,
        "compose.html",
        {
            "moods": MOODS,
            "remix": request.query_params.get("remix", "")[:2048],
            "visibilities": [v.value for v in Visibility],
            "max_caption": MAX_CAPTION_LENGTH,
            "max_cw": MAX_CONTENT_WARNING_LENGTH,
            "max_mood_word": MAX_MOOD_WORD_LENGTH,
            "max_alt_text": MAX_ALT_TEXT,
            "attachments": attachments,
            "has_generated": any(item.generation for item in drafts),
            "max_images": MAX_ATTACHMENTS,
            "max_upload_bytes": MAX_IMAGE_BYTES,
            "max_upload_mb": MAX_IMAGE_BYTES // (1024 * 1024),
            "accepted_types": ACCEPTED_TYPES,
            "upload_error": upload_error,
        },
        status_code=status_code,
    )


def _attachment(document: dict[str, Any], drafts: list[Media]) -> dict[str, Any]:
    """A draft's MEDIA plus the link that shows the page without it (removing it, without JavaScript)."""
    others = [("media", item.id) for item in drafts if item.id != document["id"]]
    return {**document, "remove_url": "/compose" + (f"?{urlencode(others)}" if others else "")}


async def upload_picture(request: Request) -> Response:
    """``POST /compose/upload``: store the chosen picture as a draft, then show compose with it attached.

    A refused file (too large, not an image, too many pixels) comes back as the compose page with the
    reason beside the upload control; nothing is stored.
    """
    services: Services = request.state.services
    account = await require_account(request)
    kept: list[int] = []
    try:
        form = await read_upload_form(request, max_fields=MAX_ATTACHMENTS + 2)
        try:
            await check_form_csrf(request, form)
            kept = form_ids(form.getlist("media"), "media")
            if len(kept) >= MAX_ATTACHMENTS:
                raise BadRequest(f"A post holds at most {MAX_ATTACHMENTS} pictures.")
            data = await read_upload(form)
        finally:
            await form.close()
        media = await create_upload(services, account, data)
    except _UPLOAD_ERRORS as error:
        return await _render_compose(request, account, kept, upload_error=str(error), status_code=error.status_code)
    return see_other("/compose?" + urlencode([("media", media_id) for media_id in [*kept, media.id]]))


def _post_fields(form: FormData) -> dict[str, Any]:
    """What every post from the page has: caption, mood, content warning, sensitivity, audience."""
    return {
        "caption": text_field(form, "caption", max_length=MAX_CAPTION_LENGTH, strip=False).strip(),
        "visibility": text_field(form, "visibility", max_length=16) or Visibility.PUBLIC,
        "content_warning": text_field(
            form, "content_warning", max_length=MAX_CONTENT_WARNING_LENGTH, label="Content warning"
        ),
        "sensitive": checkbox(form, "sensitive"),
        "mood_emoji": text_field(form, "mood_emoji", max_length=16, label="Mood emoji"),
        "mood_word": text_field(form, "mood_word", max_length=MAX_MOOD_WORD_LENGTH, label="Mood word"),
    }


async def publish_pictures(request: Request) -> Response:
    """``POST /compose/pictures``: publish the attached drafts with their alt texts (the form without JavaScript)."""
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    media_ids = tuple(form_ids(form.getlist("media_ids"), "media_ids"))
    alt_texts = {
        media_id: text_field(form, f"alt_text_{media_id}", max_length=MAX_ALT_TEXT, label="Alt text")
        for media_id in media_ids
    }
    composition = Composition(
        media_ids=media_ids, alt_texts=alt_texts, hide_prompt=checkbox(form, "hide_prompt"), **_post_fields(form)
    )
    post = await publish_composition(services, account, composition)
    return htmx_redirect(request, await _post_path(services, post))


async def _post_path(services: Services, post: Post) -> str:
    async with services.db.session() as session:
        author = await session.get(Actor, post.author_id)
    assert author is not None
    return post_path(post, author, services.urls.host)


async def _resolve_mentions(services: Services, caption: str, parent_author: Actor | None) -> list[Actor]:
    """Accounts named in the caption (``@name``, ``@name@host``); unknown ones stay plain text."""
    found: dict[int, Actor] = {}
    if parent_author is not None and parent_author.id is not None:
        found[parent_author.id] = parent_author
    for username, host in extract_mentions(caption, services.urls.host)[:MAX_MENTIONS]:
        try:
            actor = await actions.find_actor(services, f"{username}@{host}")
        except (ReverieError, ActivityPubError):
            continue
        if actor.id is not None:
            found[actor.id] = actor
    return list(found.values())


async def _reply_target(
    services: Services, form: FormData, viewer_actor_id: int, *, field: str = "in_reply_to"
) -> tuple[Post | None, Actor | None]:
    """The post a form replies to (``in_reply_to``) or quotes (``quote_of``), when the viewer may see it."""
    raw = form.get(field)
    if not raw:
        return None, None
    parent_id = parse_id(raw)
    if parent_id is None:
        raise BadRequest("The post you reply to is unknown.")
    async with services.db.session() as session:
        parent = await session.get(Post, parent_id)
        if parent is None or not await can_see(session, parent, viewer_actor_id):
            raise NotFound("The post you reply to does not exist any more.")
        return parent, await session.get(Actor, parent.author_id)


async def publish_text(request: Request) -> Response:
    """``POST /compose/text``: a caption and/or mood, optionally a reply; no image."""
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    fields = _post_fields(form)
    parent, parent_author = await _reply_target(services, form, account.actor_id)
    quoted, _ = await _reply_target(services, form, account.actor_id, field="quote_of")
    draft = PostDraft(
        **fields,
        in_reply_to=parent,
        mentions=await _resolve_mentions(services, fields["caption"], parent_author),
        quote_of=quoted,
    )
    post = await actions.publish(services, account.username, draft)
    if parent is not None and parent_author is not None:
        return htmx_redirect(request, f"{post_path(parent, parent_author, services.urls.host)}#post-{post.id}")
    return htmx_redirect(request, await _post_path(services, post))


routes = [
    Route("/compose", compose_page),
    Route("/compose/text", publish_text, methods=["POST"]),
    Route("/compose/upload", upload_picture, methods=["POST"]),
    Route("/compose/pictures", publish_pictures, methods=["POST"]),
]
