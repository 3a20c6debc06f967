"""Publishing, editing and deleting local posts: rows, notifications and federation in one transaction."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from activitypub.vocab import JsonObject
from fediverse.core.errors import BadRequest, Forbidden, NotFound
from fediverse.core.interaction_policy import REPLY
from fediverse.core.media_files import keys_of
from fediverse.core.text import MAX_CAPTION_LENGTH, MentionTarget, extract_hashtags, normalize_tag, render_text
from fediverse.core.urls import Urls
from fediverse.core.visibility import can_see
from fediverse.federation.activities import delete_note_activity, new_activity_id, update_activity
from fediverse.federation.documents import next_edit_time
from fediverse.federation.notes import PostView, create_activity, note_document
from fediverse.federation.outbox import follower_inboxes, inbox_of, queue_activity
from fediverse.federation.quotes import fallback_html
from fediverse.federation.threads import link_replies
from fediverse.generation.provenance import describe_generation
from fediverse.reads.post_views import load_post_views
from fediverse.social import idempotency
from fediverse.social.edits import keep_version
from fediverse.social.interactions import permitted
from fediverse.social.moves import ensure_can_post
from fediverse.social.notifications import notify, notify_quoted_update
from fediverse.social.quotes import quote_state_for, request_quote, revoke_quote_authorizations
from fediverse.social.removals import drop_attachments
from storage.cache import POSTS, bump
from storage.models import (
    Account,
    Actor,
    Approval,
    Media,
    MediaState,
    Mention,
    NotificationType,
    Post,
    PostEdit,
    PostMedia,
    PostTag,
    QuoteState,
    Visibility,
)
from storage.types import utcnow

MAX_ATTACHMENTS = 4  # Mastodon shows four (Status::MEDIA_ATTACHMENTS_LIMIT)
MAX_CONTENT_WARNING_LENGTH = 500
MAX_MOOD_WORD_LENGTH = 40


@dataclass(frozen=True)
class PostDraft:
    """What a person composed. ``mentions`` are already resolved to actors (WebFinger happens before)."""

    caption: str = ""
    media_ids: Sequence[int] = ()
    visibility: str = Visibility.PUBLIC
    content_warning: str = ""
    sensitive: bool = False
    mood_emoji: str = ""
    mood_word: str = ""
    language: str | None = "en"
    in_reply_to: Post | None = None
    mentions: Sequence[Actor] = ()
    hide_prompt: bool = False
    extra_tags: Sequence[str] = ()
    generation: dict[str, Any] | None = None
    remix_of_ap_id: str | None = None
    alt_texts: dict[int, str] = field(default_factory=dict)
    #: The post this one quotes (decision 0064); its author's policy is checked when publishing.
    quote_of: Post | None = None
    idempotency_key: str | None = None  # the client API's ``Idempotency-Key`` (``social.idempotency``)


def check_draft(draft: PostDraft) -> None:
    """Refuse what no server would show, with a message the author can act on."""
    if draft.visibility not in {visibility.value for visibility in Visibility}:
        raise BadRequest("Unknown visibility.")
    if len(draft.caption) > MAX_CAPTION_LENGTH:
        raise BadRequest(f"Captions may have at most {MAX_CAPTION_LENGTH} characters.")
    if len(draft.media_ids) > MAX_ATTACHMENTS:
        raise BadRequest(f"A post holds at most {MAX_ATTACHMENTS} images.")
    if len(set(draft.media_ids)) != len(draft.media_ids):
        raise BadRequest("The same image is attached twice.")
    if len(draft.content_warning) > MAX_CONTENT_WARNING_LENGTH:
        raise BadRequest(f"Content warnings may have at most {MAX_CONTENT_WARNING_LENGTH} characters.")
    if len(draft.mood_word) > MAX_MOOD_WORD_LENGTH or len(draft.mood_emoji) > 16:
        raise BadRequest("That mood is too long.")
    if not (draft.caption.strip() or draft.media_ids or draft.mood_word.strip() or draft.mood_emoji.strip()):
        raise BadRequest("A post needs an image, a caption or a mood.")


def compose_content(draft: PostDraft, urls: Urls, tags: Sequence[str]) -> str:
    """The HTML every server shows: caption, mood, how the image was made, what it remixes, and the hashtags
    that are not in the caption."""
    mentions = {
        (actor.username.lower(), actor.domain.lower()): MentionTarget(
            actor.ap_id, actor.url or actor.ap_id, actor.username, actor.domain
        )
        for actor in draft.mentions
    }
    content = render_text(draft.caption, local_host=urls.host, tag_url=urls.tag_url, mentions=mentions)
    mood = " ".join(part for part in (draft.mood_emoji.strip(), draft.mood_word.strip()) if part)
    if mood:
        content += f'<p class="reverie-mood">Mood: {html.escape(mood)}</p>'
    if draft.generation:
        line = describe_generation(draft.generation, hide_prompt=draft.hide_prompt)
        content += f'<p class="reverie-provenance">{html.escape(line)}</p>'
    if draft.remix_of_ap_id:
        source = html.escape(draft.remix_of_ap_id, quote=True)
        # The "RE: <url>" line is the microsyntax FEP-e232's object link names (``federation.notes.remix_link``).
        content += (
            f'<p class="reverie-remix">🔁 Remix<br>RE: <a href="{source}" rel="nofollow noopener">{source}</a></p>'
        )
    in_caption = set(extract_hashtags(draft.caption))
    trailing = [tag for tag in tags if tag not in in_caption]
    if trailing:
        links = " ".join(
            f'<a href="{html.escape(urls.tag_url(tag), quote=True)}" class="mention hashtag" rel="tag">'
            f"#<span>{html.escape(tag)}</span></a>"
            for tag in trailing
        )
        content += f"<p>{links}</p>"
    if draft.quote_of is not None:
        content += fallback_html(draft.quote_of.url or draft.quote_of.ap_id)  # for servers that know no quotes
    return content


async def _claim_media(session: AsyncSession, account: Account, media_ids: Sequence[int]) -> list[Media]:
    """Attach drafts to the post being written. The rows are locked as they are read, so housekeeping
    expiring the same drafts either waits and then leaves them (no longer drafts), or wins and the
    publish is refused as for any missing image (PostgreSQL; SQLite runs one writer at a time)."""
    query = select(Media).where(col(Media.id).in_(list(media_ids))).with_for_update()
    found = {m.id: m for m in await session.scalars(query)}
    media = []
    for media_id in media_ids:
        item = found.get(media_id)
        if item is None or item.owner_account_id != account.id or item.state != MediaState.DRAFT:
            raise BadRequest("An image is missing or already used in another post.")
        item.state = MediaState.ATTACHED
        media.append(item)
    return media


async def post_audience(session: AsyncSession, view: PostView, parent_author: Actor | None) -> list[str]:
    """Inboxes that must receive a post's activities: followers', the people mentioned and the parent's
    author, each through their server's shared inbox where it has one (none for a direct post's followers),
    so every server gets one copy (decision 0054); an actor without a shared inbox (GoToSocial) at its own."""
    post, author = view.post, view.author
    assert author.id is not None
    inboxes = [] if post.visibility == Visibility.DIRECT else await follower_inboxes(session, author.id)
    inboxes += [inbox_of(actor) for actor in view.mentions if not actor.is_local]
    if parent_author is not None and not parent_author.is_local:
        inboxes.append(inbox_of(parent_author))
    return inboxes


async def publish_post(session: AsyncSession, urls: Urls, account: Account, draft: PostDraft) -> Post:
    """Create a local post and federate it to everyone who should see it."""
    check_draft(draft)
    author = await session.get(Actor, account.actor_id)
    assert author is not None and author.id is not None
    ensure_can_post(author)
    if draft.idempotency_key is not None:
        await idempotency.claim(session, account.id or 0, draft.idempotency_key)
    parent = draft.in_reply_to
    if parent is not None and parent.deleted_at is not None:
        raise BadRequest("The post you reply to has been deleted.")
    if parent is not None and not await can_see(session, parent, author.id):
        raise NotFound("No such post.")  # what an unknown post answers: a reply does not reveal it exists
    quoted = draft.quote_of
    quote_state = await quote_state_for(session, author, quoted) if quoted is not None else None
    verdict = await permitted(session, author, parent, REPLY) if parent is not None else None
    media = await _claim_media(session, account, draft.media_ids)
    for item in media:
        if item.id in draft.alt_texts:
            item.alt_text = draft.alt_texts[item.id or 0][:1500]
    tags = list(dict.fromkeys([*extract_hashtags(draft.caption), *(normalize_tag(t) for t in draft.extra_tags)]))
    post = Post(
        ap_id="",
        author_id=author.id,
        is_local=True,
        visibility=draft.visibility,
        content_html=compose_content(draft, urls, tags),
        source_text=draft.caption,
        summary=draft.content_warning.strip() or None,
        sensitive=draft.sensitive or bool(draft.content_warning.strip()),
        language=draft.language,
        in_reply_to_ap_id=parent.ap_id if parent else None,
        in_reply_to_id=parent.id if parent else None,
        mood_emoji=draft.mood_emoji.strip() or None,
        mood_word=draft.mood_word.strip() or None,
        generation=draft.generation,
        hide_prompt=draft.hide_prompt,
        remix_of_ap_id=draft.remix_of_ap_id,
        quote_ap_id=quoted.ap_id if quoted is not None else None,
        quote_state=quote_state,
        published=utcnow(),
    )
    if verdict is not None and verdict.needs_accept and parent is not None and not parent.is_local:
        post.approval = Approval.PENDING  # sent to the parent's author alone until they accept it (decision 0063)
    post.ap_id = urls.post_id(account.username, post.id)
    post.url = urls.post_url(account.username, post.id)
    session.add(post)
    await session.flush()
    await link_replies(session, post)
    session.add_all(
        PostMedia(post_id=post.id, media_id=item.id or 0, position=index) for index, item in enumerate(media)
    )
    session.add_all(PostTag(post_id=post.id, tag=tag) for tag in tags)
    mentioned = list({actor.id: actor for actor in draft.mentions if actor.id is not None}.values())
    parent_author = await session.get(Actor, parent.author_id) if parent else None
    if parent_author is not None and not parent_author.is_local and parent_author.id not in {a.id for a in mentioned}:
        # A reply addresses the author it answers (Mastodon's composer mentions them), so a followers-only
        # or direct reply reaches them and their server threads it.
        mentioned.append(parent_author)
    session.add_all(Mention(post_id=post.id, actor_id=actor.id or 0) for actor in mentioned)
    await session.flush()
    for actor in mentioned:
        await notify(session, actor.id or 0, NotificationType.MENTION, from_actor_id=author.id, post_id=post.id)
    if parent is not None and parent_author is not None and parent_author.id not in {a.id for a in mentioned}:
        await notify(session, parent_author.id or 0, NotificationType.REPLY, from_actor_id=author.id, post_id=post.id)
    if draft.remix_of_ap_id:
        source = await session.scalar(select(Post).where(col(Post.ap_id) == draft.remix_of_ap_id))
        if source is not None:
            await notify(session, source.author_id, NotificationType.REMIX, from_actor_id=author.id, post_id=post.id)
    if quoted is not None and quoted.is_local and quoted.author_id not in {a.id for a in mentioned}:
        await notify(session, quoted.author_id, NotificationType.QUOTE, from_actor_id=author.id, post_id=post.id)
    # Tags sorted as ``load_post_views`` reads them back, so the delivered Note and the served one agree.
    view = PostView(post=post, author=author, media=media, tags=sorted(tags), mentions=mentioned)
    activity = create_activity(view, urls)
    audience = await post_audience(session, view, parent_author)
    quoted_author = await session.get(Actor, quoted.author_id) if quoted is not None else None
    if post.approval == Approval.PENDING and parent_author is not None:
        audience = [inbox_of(parent_author)]
    elif quoted_author is not None and not quoted_author.is_local and post.visibility != Visibility.DIRECT:
        audience.append(inbox_of(quoted_author))  # the quoted author's server learns of the quote (Mastodon does)
    await queue_activity(session, author, activity, audience, local_base_url=urls.base_url)
    if quoted is not None and quote_state == QuoteState.PENDING:
        await request_quote(session, urls, author, post, quoted)
    if draft.idempotency_key is not None:
        await idempotency.remember(session, account.id or 0, draft.idempotency_key, post.id)
    await bump(session, POSTS)
    return post


async def republish_post(session: AsyncSession, urls: Urls, post: Post, also: Sequence[Actor] = ()) -> None:
    """Send a local post again as ``Update{Note}`` after something other than its text changed (a quote's
    approval, decision 0064), to its audience and ``also``."""
    (view,) = await load_post_views(session, [post])
    assert view.author.username is not None
    post.edited_at = next_edit_time(post.edited_at or post.published, utcnow())
    note = note_document(view, urls)
    activity = update_activity(
        new_activity_id(urls, view.author.username), view.author.ap_id, note, note["to"], note["cc"]
    )
    inboxes = await post_audience(session, view, await _parent_author(session, post))
    inboxes += [inbox_of(actor) for actor in also if not actor.is_local]
    await queue_activity(session, view.author, activity, inboxes, local_base_url=urls.base_url)
    await bump(session, POSTS)


async def send_approved_reply(session: AsyncSession, urls: Urls, author: Actor, post: Post) -> None:
    """A reply that waited for approval was accepted: its ``Create`` goes out again, now to everyone it
    addresses, and its Note carries ``approvedBy`` (GoToSocial's flow, decision 0063)."""
    (view,) = await load_post_views(session, [post])
    activity = create_activity(view, urls)
    audience = await post_audience(session, view, await _parent_author(session, post))
    await queue_activity(session, author, activity, audience, local_base_url=urls.base_url, again=True)
    await bump(session, POSTS)


async def _own_post_view(session: AsyncSession, account: Account, post: Post) -> PostView:
    if post.author_id != account.actor_id:
        raise Forbidden("This is not your post.")
    if post.deleted_at is not None:
        raise BadRequest("This post has been deleted.")
    (view,) = await load_post_views(session, [post])
    return view


async def _parent_author(session: AsyncSession, post: Post) -> Actor | None:
    if post.in_reply_to_id is None:
        return None
    parent = await session.get(Post, post.in_reply_to_id)
    return await session.get(Actor, parent.author_id) if parent else None


async def delete_post(session: AsyncSession, urls: Urls, account: Account, post: Post) -> set[str]:
    """Tombstone a local post (its id answers 410 from now on) and tell everyone who received it.

    Its images go with it: the keys of their files come back, to forget after the commit."""
    view = await _own_post_view(session, account, post)
    audience = await post_audience(session, view, await _parent_author(session, post))
    note = note_document(view, urls)
    activity = delete_note_activity(view.author.ap_id, post.ap_id, note["to"], note["cc"])
    post.deleted_at = utcnow()
    post.content_html = ""
    post.source_text = None
    await session.execute(delete(PostTag).where(col(PostTag.post_id) == post.id))
    await session.execute(delete(PostEdit).where(col(PostEdit.post_id) == post.id))
    await revoke_quote_authorizations(session, post)
    await queue_activity(session, view.author, activity, audience, local_base_url=urls.base_url)
    await bump(session, POSTS)
    return await drop_attachments(session, post)


async def edit_post(
    session: AsyncSession,
    urls: Urls,
    account: Account,
    post: Post,
    *,
    caption: str,
    content_warning: str = "",
    sensitive: bool = False,
    alt_texts: dict[int, str] | None = None,
    focal_points: dict[int, tuple[float, float]] | None = None,
    media_ids: Sequence[int] | None = None,
) -> tuple[Post, set[str]]:
    """Change a local post's caption, content warning, images (``media_ids``: the attached ones to keep and
    the author's drafts to add, in their new order), alt texts or focal points, and send ``Update{Note}``.
    The post as it was is kept as a ``PostEdit`` (its history). Returns the post and the file keys of the
    images taken out (deleted with their rows), to forget once the transaction has committed."""
    view = await _own_post_view(session, account, post)
    wanted = [m.id or 0 for m in view.media] if media_ids is None else list(media_ids)
    draft = PostDraft(
        caption=caption,
        media_ids=wanted,
        visibility=post.visibility,
        content_warning=content_warning,
        sensitive=sensitive,
        mood_emoji=post.mood_emoji or "",
        mood_word=post.mood_word or "",
        mentions=view.mentions,
        hide_prompt=post.hide_prompt,
        generation=post.generation,
        remix_of_ap_id=post.remix_of_ap_id,
    )
    check_draft(draft)
    old_caption_tags = set(extract_hashtags(post.source_text or ""))
    kept_extra_tags = [tag for tag in view.tags if tag not in old_caption_tags]  # e.g. the automatic AI tag
    tags = list(dict.fromkeys([*extract_hashtags(caption), *kept_extra_tags]))
    await keep_version(session, post, view.media)
    media, dropped = list(view.media), set[str]()
    if media_ids is not None and wanted != [m.id for m in view.media]:
        media, dropped = await _replace_media(session, account, post, view.media, wanted)
    post.content_html = compose_content(draft, urls, tags)
    if post.quote_ap_id:
        post.content_html += fallback_html(post.quote_ap_id)
    post.source_text = caption
    post.summary = content_warning.strip() or None
    post.sensitive = sensitive or bool(post.summary)
    post.edited_at = next_edit_time(post.edited_at or post.published, utcnow())
    for item in media:
        if alt_texts and item.id in alt_texts:
            item.alt_text = alt_texts[item.id or 0][:1500]
        if focal_points and item.id in focal_points:
            item.focal_x, item.focal_y = (max(-1.0, min(1.0, value)) for value in focal_points[item.id or 0])
    await session.execute(delete(PostTag).where(col(PostTag.post_id) == post.id))
    session.add_all(PostTag(post_id=post.id, tag=tag) for tag in tags)
    edited = PostView(post=post, author=view.author, media=media, tags=sorted(tags), mentions=view.mentions)
    note: JsonObject = note_document(edited, urls)
    activity = update_activity(new_activity_id(urls, account.username), view.author.ap_id, note, note["to"], note["cc"])
    audience = await post_audience(session, edited, await _parent_author(session, post))
    await queue_activity(session, view.author, activity, audience, local_base_url=urls.base_url)
    await notify_quoted_update(session, post)
    await bump(session, POSTS)
    return post, dropped


async def _replace_media(
    session: AsyncSession, account: Account, post: Post, attached: Sequence[Media], wanted: Sequence[int]
) -> tuple[list[Media], set[str]]:
    """Attach ``wanted`` in order: images already on the post stay, the author's drafts are claimed, the
    images left out are deleted. Returns the new images and the removed ones' file keys."""
    current = {item.id: item for item in attached}
    added = await _claim_media(session, account, [media_id for media_id in wanted if media_id not in current])
    by_id = {**current, **{item.id: item for item in added}}
    removed = [item for item in attached if item.id not in set(wanted)]
    await session.execute(delete(PostMedia).where(col(PostMedia.post_id) == post.id))
    await session.flush()
    session.add_all(
        PostMedia(post_id=post.id, media_id=media_id, position=index) for index, media_id in enumerate(wanted)
    )
    if removed:
        await session.execute(delete(Media).where(col(Media.id).in_([item.id for item in removed])))
    await session.flush()
    return [by_id[media_id] for media_id in wanted], {key for item in removed for key in keys_of(item)}
