"""Posts -> ``Note`` documents and their ``Create`` activities, shaped as Mastodon emits them.

Attachments are ``Document``s with ``mediaType``, ``blurhash``, ``width``/``height`` and alt text as
``name``; addressing follows decision 0012.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from activitypub.vocab import LD_MEDIA_TYPE, PUBLIC, JsonObject, with_context
from fediverse.core.interaction_policy import REPLY
from fediverse.core.urls import Urls
from fediverse.federation.documents import format_datetime, format_datetime_ms
from fediverse.federation.interaction_policies import approval_terms, policy_document
from fediverse.federation.labels import label_for, labels_for
from fediverse.federation.quote_policy import quote_policy_terms
from fediverse.federation.quotes import quote_link, quote_terms
from fediverse.generation.provenance import shared_generation
from storage.media import mime_of_key
from storage.models import Actor, Media, Post, Visibility


@dataclass(frozen=True)
class PostView:
    """A post with what its documents and pages need, loaded together (see ``fediverse.reads.post_views``)."""

    post: Post
    author: Actor
    media: Sequence[Media] = ()
    tags: Sequence[str] = ()
    mentions: Sequence[Actor] = ()
    extra: dict[str, object] = field(default_factory=dict)


def address_post(visibility: str, followers_url: str | None, mention_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """``to`` and ``cc`` for a visibility (Mastodon's TagManager); the full ``#Public`` IRI, as Pixelfed needs."""
    mentions = list(dict.fromkeys(mention_ids))
    followers = [followers_url] if followers_url else []
    if visibility == Visibility.PUBLIC:
        return [PUBLIC], followers + mentions
    if visibility == Visibility.UNLISTED:
        return followers, [PUBLIC, *mentions]
    if visibility == Visibility.FOLLOWERS:
        return followers, mentions
    return mentions, []


def attachment_document(media: Media, urls: Urls) -> JsonObject:
    """An image attachment every server accepts: alt text as ``name`` (Pixelfed) and ``summary`` (Mastodon)."""
    key = media.display_key or media.original_key
    url = urls.media_url(key) if key else media.remote_url
    document: JsonObject = {
        "type": "Image",
        "mediaType": mime_of_key(key) if key else media.mime,
        "url": url,
        "name": media.alt_text or None,
        "summary": media.alt_text or None,
        "blurhash": media.blurhash,
        "focalPoint": [media.focal_x, media.focal_y],
        "width": media.width,
        "height": media.height,
        "digitalSourceType": media.digital_source_type,
        "tag": [label] if (label := label_for(media.digital_source_type, urls)) else None,  # FEP-4c96
    }
    return {name: value for name, value in document.items() if value is not None}


def note_document(view: PostView, urls: Urls) -> JsonObject:
    """The ``Note`` of a post (without ``@context``; embed it or pass it to ``with_context``)."""
    post, author = view.post, view.author
    to, cc = address_post(post.visibility, author.followers_url, [actor.ap_id for actor in view.mentions])
    tags: list[JsonObject] = [
        {"type": "Mention", "href": actor.ap_id, "name": f"@{actor.username}@{actor.domain}"} for actor in view.mentions
    ]
    tags += [{"type": "Hashtag", "name": f"#{tag}", "href": urls.tag_url(tag)} for tag in view.tags]
    generated = (post.generation or {}).get("digitalSourceType")
    tags += labels_for([*(media.digital_source_type for media in view.media), generated], urls)  # FEP-4c96
    if post.remix_of_ap_id:
        tags.append(remix_link(post.remix_of_ap_id))
    if post.quote_ap_id:
        tags.append(quote_link(post.quote_ap_id))  # FEP-e232, for servers that read links but no quote terms
    document: JsonObject = {
        "id": post.ap_id,
        "type": "Note",
        "attributedTo": author.ap_id,
        "url": post.url or post.ap_id,
        "published": format_datetime(post.published),
        "to": to,
        "cc": cc,
        "summary": post.summary or None,
        "sensitive": post.sensitive,
        "inReplyTo": post.in_reply_to_ap_id,
        "content": post.content_html,
        "attachment": [attachment_document(media, urls) for media in view.media],
        "tag": tags,
        # Mastodon's shape when the first page holds no self-replies: ``next`` leads to everyone's replies
        # (its "fetch all replies" follows ``next``; an empty page without it would end the walk).
        "replies": {
            "id": f"{post.ap_id}/replies",
            "type": "Collection",
            "first": {
                "type": "CollectionPage",
                "next": f"{post.ap_id}/replies?page=true",
                "partOf": f"{post.ap_id}/replies",
                "items": [],
            },
        },
    }
    if post.language:
        document["contentMap"] = {post.language: post.content_html}
    if post.edited_at is not None:
        document["updated"] = format_datetime_ms(post.edited_at)
    if post.is_local:  # GoToSocial's interaction controls (decision 0063)
        document["interactionPolicy"] = policy_document(post, author, [actor.ap_id for actor in view.mentions])
        document.update(approval_terms(REPLY, post.approved_by))
    document.update(reverie_terms(post))
    if post.quote_ap_id:
        document.update(quote_terms(post.quote_ap_id, post.quote_authorization))
    # ``interactionPolicy`` holds one sub-policy per interaction; ``canQuote`` is quote_policy's (decision 0064).
    policy = document.setdefault("interactionPolicy", {})
    assert isinstance(policy, dict)
    policy.update(quote_policy_terms(post, author.ap_id))
    document.update(view.extra)
    return document


def reverie_terms(post: Post) -> JsonObject:
    """Our JSON-LD terms (declared in ``vocab.EXTENSION_TERMS``): mood, provenance, remix source.

    With a hidden prompt the provenance is only what ``shared_generation`` allows (the generator, the kind
    of image, the remix source): no seed, style or other parameter that would confirm a guessed prompt.
    """
    terms: JsonObject = {}
    mood = " ".join(part for part in (post.mood_emoji, post.mood_word) if part)
    if mood:
        terms["mood"] = mood
    if post.generation:
        shared = shared_generation(post.generation, hide_prompt=post.hide_prompt)
        generation = {key: value for key, value in shared.items() if value is not None}
        terms["generation"] = generation
        if "digitalSourceType" in generation:
            terms["digitalSourceType"] = generation["digitalSourceType"]
    if post.remix_of_ap_id:
        terms["remixOf"] = post.remix_of_ap_id
    return terms


def remix_link(source_id: str) -> JsonObject:
    """FEP-e232's object link to the post a remix is made from, beside our ``remixOf``: servers that know no
    Reverie terms still link (or quote) the source. ``name`` is the ``RE:`` line the content carries."""
    return {"type": "Link", "mediaType": LD_MEDIA_TYPE, "href": source_id, "name": f"RE: {source_id}"}


def create_activity(view: PostView, urls: Urls, *, context: bool = True) -> JsonObject:
    """``Create{Note}`` for a post; its id is the Note id plus ``/activity`` (as Mastodon does)."""
    note = note_document(view, urls)
    activity: JsonObject = {
        "id": f"{view.post.ap_id}/activity",
        "type": "Create",
        "actor": view.author.ap_id,
        "published": note["published"],
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    }
    return with_context(activity) if context else activity
