"""The compose page, and publishing text, mood and reply posts from a plain form.

Image posts are made by the page's script through the generation/posting JSON API (``/api/…``);
posts without an image also work without JavaScript, through ``POST /compose/text``.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitypub.errors import ActivityPubError
from fediverse import actions
from fediverse.auth import current_account
from fediverse.cards import post_path
from fediverse.errors import BadRequest, NotFound, ReverieError
from fediverse.rendering import render_page
from fediverse.routes.forms import checkbox, htmx_redirect, see_other, signed_in_form, text_field
from fediverse.services import Services
from fediverse.social.posts import MAX_CONTENT_WARNING_LENGTH, MAX_MOOD_WORD_LENGTH, PostDraft
from fediverse.text import MAX_CAPTION_LENGTH, extract_mentions
from fediverse.visibility import can_see
from storage.models import Actor, Post, Visibility

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


async def compose_page(request: Request) -> Response:
    account = await current_account(request)
    if account is None:
        return see_other("/login?next=/compose")
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
        },
    )


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


async def _reply_target(services: Services, form: FormData, viewer_actor_id: int) -> tuple[Post | None, Actor | None]:
    raw = form.get("in_reply_to")
    if not raw:
        return None, None
    if not isinstance(raw, str) or not raw.isdigit():
        raise BadRequest("The post you reply to is unknown.")
    async with services.db.session() as session:
        parent = await session.get(Post, int(raw))
        if parent is None or not await can_see(session, parent, viewer_actor_id):
            raise NotFound("The post you reply to does not exist any more.")
        return parent, await session.get(Actor, parent.author_id)


async def publish_text(request: Request) -> Response:
    """``POST /compose/text``: a caption and/or mood, optionally a reply; no image."""
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    caption = text_field(form, "caption", max_length=MAX_CAPTION_LENGTH, strip=False).strip()
    visibility = text_field(form, "visibility", max_length=16) or Visibility.PUBLIC
    parent, parent_author = await _reply_target(services, form, account.actor_id)
    draft = PostDraft(
        caption=caption,
        visibility=visibility,
        content_warning=text_field(
            form, "content_warning", max_length=MAX_CONTENT_WARNING_LENGTH, label="Content warning"
        ),
        sensitive=checkbox(form, "sensitive"),
        mood_emoji=text_field(form, "mood_emoji", max_length=16, label="Mood emoji"),
        mood_word=text_field(form, "mood_word", max_length=MAX_MOOD_WORD_LENGTH, label="Mood word"),
        in_reply_to=parent,
        mentions=await _resolve_mentions(services, caption, parent_author),
    )
    post = await actions.publish(services, account.username, draft)
    async with services.db.session() as session:
        author = await session.get(Actor, post.author_id)
    assert author is not None
    if parent is not None and parent_author is not None:
        return htmx_redirect(request, f"{post_path(parent, parent_author, services.urls.host)}#post-{post.id}")
    return htmx_redirect(request, post_path(post, author, services.urls.host))


routes = [
    Route("/compose", compose_page),
    Route("/compose/text", publish_text, methods=["POST"]),
]
