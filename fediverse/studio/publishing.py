"""Publishing what a person composed: draft images in order with their alt texts, a caption, a mood, a
content warning, a visibility, reply and remix links. Generated images add the instance's AI hashtag
and the provenance line. A hidden prompt is also taken out of the files before they are published, with
the seed and settings that would confirm a guess, and the generator's description of an image (written from
the prompt) gives way to a neutral one.

Remote lookups (mentions, the post replied to) happen before the write transaction (``actions.publish``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from activitypub.errors import ActivityPubError
from fediverse.core.errors import BadRequest, ReverieError
from fediverse.core.ids import parse_id
from fediverse.core.text import extract_mentions
from fediverse.generation.provenance import describe_without_prompt
from fediverse.services import Services
from fediverse.social import actions
from fediverse.social.posts import MAX_ATTACHMENTS, PostDraft, check_draft
from fediverse.studio.drafts import MAX_ALT_TEXT, generator_alt_texts, hide_prompt_in_files
from storage.models import Account, Actor, Media, MediaState, Post, Visibility

MAX_MENTIONS = 20
MAX_ID_LENGTH = 2048


@dataclass(frozen=True)
class Composition:
    """The body of ``POST /api/posts`` (and what ``reverie post`` builds)."""

    media_ids: tuple[int, ...] = ()
    caption: str = ""
    mood_emoji: str = ""
    mood_word: str = ""
    content_warning: str = ""
    sensitive: bool = False
    visibility: str = Visibility.PUBLIC
    alt_texts: Mapping[int, str] = field(default_factory=dict)
    hide_prompt: bool = False
    in_reply_to: str | None = None
    remix_of: str | None = None
    language: str | None = "en"
    #: The post this one quotes, by id or URL (decision 0064).
    quote_of: str | None = None
    idempotency_key: str | None = None


def read_composition(body: Mapping[str, Any]) -> Composition:
    """A ``Composition`` from JSON, with a message naming the field that has the wrong type."""
    media_ids = body.get("media_ids") or []
    if not isinstance(media_ids, list) or len(media_ids) > MAX_ATTACHMENTS:
        raise BadRequest(f"media_ids must be a list of at most {MAX_ATTACHMENTS} image ids.")
    alt_texts = body.get("alt_texts") or {}
    if not isinstance(alt_texts, dict) or not all(isinstance(text, str) for text in alt_texts.values()):
        raise BadRequest("alt_texts must map image ids to text.")
    return Composition(
        media_ids=tuple(_media_id(value) for value in media_ids),
        caption=_text(body, "caption"),
        mood_emoji=_text(body, "mood_emoji"),
        mood_word=_text(body, "mood_word"),
        content_warning=_text(body, "content_warning"),
        sensitive=_flag(body, "sensitive"),
        visibility=_text(body, "visibility") or Visibility.PUBLIC,
        alt_texts={_media_id(key): text for key, text in alt_texts.items()},
        hide_prompt=_flag(body, "hide_prompt"),
        in_reply_to=_address(body, "in_reply_to"),
        remix_of=_address(body, "remix_of"),
        quote_of=_address(body, "quote_of"),
    )


def split_mood(mood: str) -> tuple[str, str]:
    """``"🌧 melancholy"`` -> ``("🌧", "melancholy")``; a mood without an emoji is all word."""
    first, _, rest = mood.strip().partition(" ")
    if first and not any(character.isalnum() for character in first):
        return first, rest.strip()
    return "", mood.strip()


async def publish_composition(services: Services, account: Account, composition: Composition) -> Post:
    await actions.ensure_can_post(services, account.username)  # a moved account: refused before files change
    media = await _load_drafts(services, account, composition.media_ids)
    unknown = set(composition.alt_texts) - set(composition.media_ids)
    if unknown:
        raise BadRequest("alt_texts names an image that is not in this post.")
    if any(len(text) > MAX_ALT_TEXT for text in composition.alt_texts.values()):
        raise BadRequest(f"Alt text may have at most {MAX_ALT_TEXT} characters.")
    generated = [item for item in media if item.generation]
    generation = dict(generated[0].generation or {}) if generated else None
    alt_texts = dict(composition.alt_texts)
    if composition.hide_prompt:
        alt_texts.update(await _descriptions_without_prompt(services, generated, alt_texts))
        _refuse_prompt_in_alt_text(media, alt_texts)
    ai_tag = services.studio.options.ai_tag
    parent = await actions.find_post(services, composition.in_reply_to) if composition.in_reply_to else None
    quoted = await actions.find_post(services, composition.quote_of) if composition.quote_of else None
    draft = PostDraft(
        caption=composition.caption,
        media_ids=composition.media_ids,
        visibility=composition.visibility,
        content_warning=composition.content_warning,
        sensitive=composition.sensitive,
        mood_emoji=composition.mood_emoji,
        mood_word=composition.mood_word,
        in_reply_to=parent,
        mentions=await resolve_mentions(services, composition.caption),
        hide_prompt=composition.hide_prompt,
        extra_tags=[ai_tag] if ai_tag and any(item.digital_source_type for item in media) else [],
        generation=generation,
        remix_of_ap_id=composition.remix_of or _remix_source(generation),
        alt_texts=alt_texts,
        language=composition.language,
        quote_of=quoted,
        idempotency_key=composition.idempotency_key,
    )
    check_draft(draft)
    if composition.hide_prompt:
        await hide_prompt_in_files(services, generated)
    return await actions.publish(services, account.username, draft)


async def resolve_mentions(services: Services, caption: str) -> list[Actor]:
    """The accounts a caption mentions; one that cannot be found stays plain text in the post."""
    handles = [f"{user}@{host}" for user, host in extract_mentions(caption, services.urls.host)][:MAX_MENTIONS]
    found = await asyncio.gather(*(_find_actor(services, handle) for handle in handles))
    return [actor for actor in found if actor is not None]


async def _find_actor(services: Services, handle: str) -> Actor | None:
    try:
        return await services.resolver.handle(handle)
    except (ReverieError, ActivityPubError):
        return None


async def _load_drafts(services: Services, account: Account, media_ids: Sequence[int]) -> list[Media]:
    async with services.db.session() as session:
        found = {m.id: m for m in await session.scalars(select(Media).where(col(Media.id).in_(list(media_ids))))}
    media = []
    for position, media_id in enumerate(media_ids, start=1):
        item = found.get(media_id)
        if item is None or item.owner_account_id != account.id or item.state != MediaState.DRAFT:
            raise BadRequest(f"Image {position} is missing or already used in another post.")
        media.append(item)
    return media


async def _descriptions_without_prompt(
    services: Services, generated: Sequence[Media], alt_texts: Mapping[int, str]
) -> dict[int, str]:
    """Neutral alt texts for the generated images that would go out with the generator's description,
    which it wrote from the prompt being hidden; a description the author wrote stays."""
    written_by_generator = await generator_alt_texts(services.db, generated)
    replaced: dict[int, str] = {}
    for item in generated:
        alt_text = alt_texts.get(item.id or 0, item.alt_text)
        default = written_by_generator.get(item.id or 0)
        if default and alt_text.strip() == default.strip():
            replaced[item.id or 0] = describe_without_prompt(item.generation or {})
    return replaced


def _refuse_prompt_in_alt_text(media: Sequence[Media], alt_texts: Mapping[int, str]) -> None:
    for position, item in enumerate(media, start=1):
        prompt = (item.generation or {}).get("prompt")
        alt_text = alt_texts.get(item.id or 0, item.alt_text)
        if isinstance(prompt, str) and prompt.strip() and prompt.strip().lower() in alt_text.lower():
            raise BadRequest(
                f"The alt text of image {position} repeats the prompt you are hiding; "
                "describe the image in other words."
            )


def _remix_source(generation: Mapping[str, Any] | None) -> str | None:
    source = (generation or {}).get("remixOf")
    return source if isinstance(source, str) else None


def _media_id(value: Any) -> int:
    media_id = parse_id(value)
    if media_id is None:
        raise BadRequest("Image ids are numbers.")
    return media_id


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be text.")
    return value


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false.")
    return value


def _address(body: Mapping[str, Any], name: str) -> str | None:
    value = _text(body, name).strip()
    if not value:
        return None
    if len(value) > MAX_ID_LENGTH or not value.startswith(("https://", "http://")):
        raise BadRequest(f"{name} must be the address of a post.")
    return value
