"""The post page (``/@name/ID``, ``/@name@host/ID``) and what a viewer does to a post: like, boost,
edit and delete (its author), load a remote post's replies from its server. Interactions are plain form
posts that htmx upgrades to swap the action bar in place."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse.core.errors import BadRequest, NotFound
from fediverse.core.text import MAX_CAPTION_LENGTH
from fediverse.core.visibility import may_see
from fediverse.federation.threads import fetching_replies, queue_replies_fetch, replies_collection
from fediverse.reads.cards import PostCard, card, cards, handle_path, image_view, load_card
from fediverse.reads.post_views import WITHOUT_RAW_ACTOR
from fediverse.reads.threads import ancestors, descendants
from fediverse.reads.timelines import Entry
from fediverse.services import Services
from fediverse.social import actions
from fediverse.social.posts import MAX_CONTENT_WARNING_LENGTH
from fediverse.studio.drafts import MAX_ALT_TEXT
from fediverse.web.activitypub.objects import note_response
from fediverse.web.pages.forms import checkbox, htmx_redirect, is_htmx, safe_next, see_other, signed_in_form, text_field
from fediverse.web.params import path_id
from fediverse.web.rendering import render_page
from fediverse.web.responses import wants_activity_json
from fediverse.web.sessions import current_account
from storage.models import Account, Actor, Announce, Like, Post

MAX_INDENT = 4


@dataclass(frozen=True)
class ThreadReply:
    card: PostCard
    depth: int


async def _find_post(session: AsyncSession, post_id: int, viewer_actor_id: int | None) -> tuple[Post, Actor]:
    return await session.run_sync(_visible_post, post_id, viewer_actor_id)


_POST = select(Post).where(col(Post.id) == bindparam("id"))
_AUTHOR = select(Actor).where(col(Actor.id) == bindparam("id")).options(WITHOUT_RAW_ACTOR)


def _visible_post(session: Session, post_id: int, viewer_actor_id: int | None) -> tuple[Post, Actor]:
    """The post (with its raw document: a remote post's replies live there) and its author."""
    post = session.scalar(_POST, {"id": post_id})
    if post is None or not may_see(session, post, viewer_actor_id):
        raise NotFound("This post does not exist, or you may not see it.")
    author = session.scalar(_AUTHOR, {"id": post.author_id})
    assert author is not None
    return post, author


def _people_query(model: type[Like] | type[Announce]) -> Select[Actor]:
    return (
        select(Actor)
        .join(model, col(model.actor_id) == col(Actor.id))
        .where(col(model.post_id) == bindparam("post_id"))
        .order_by(col(model.id).desc())
        .limit(12)
        .options(WITHOUT_RAW_ACTOR)
    )


_PEOPLE = {Like: _people_query(Like), Announce: _people_query(Announce)}


def _people(session: Session, model: type[Like] | type[Announce], post_id: int) -> list[Actor]:
    return list(session.scalars(_PEOPLE[model], {"post_id": post_id}))


@dataclass(frozen=True)
class _PostRead:
    post: Post
    author: Actor
    card: PostCard
    ancestors: list[PostCard]
    replies: list[ThreadReply]
    likers: list[Actor]
    boosters: list[Actor]
    has_remote_replies: bool
    fetching_replies: bool


def _post_unit(
    session: Session, services: Services, post_id: int, handle: str, viewer_actor_id: int | None
) -> _PostRead:
    urls = services.urls
    post, author = _visible_post(session, post_id, viewer_actor_id)
    if not _matches_handle(author, handle, urls.host):
        raise NotFound("This post does not exist, or you may not see it.")
    above = [Entry(parent.id, parent.id) for parent in ancestors(session, post, viewer_actor_id)]
    thread = descendants(session, post, viewer_actor_id)
    reply_cards = {
        found.post.id: found for found in cards(session, urls, [Entry(i, i) for i, _ in thread], viewer_actor_id)
    }
    has_remote_replies = replies_collection(post) is not None
    return _PostRead(
        post=post,
        author=author,
        card=card(session, urls, post, viewer_actor_id),
        ancestors=cards(session, urls, above, viewer_actor_id),
        replies=[ThreadReply(reply_cards[i], min(depth, MAX_INDENT)) for i, depth in thread if i in reply_cards],
        likers=_people(session, Like, post.id),
        boosters=_people(session, Announce, post.id),
        has_remote_replies=has_remote_replies,
        fetching_replies=has_remote_replies and fetching_replies(session, post),
    )


def _matches_handle(author: Actor, handle: str, local_host: str) -> bool:
    return handle_path(author, local_host) == f"/@{handle}"


async def post_page(request: Request) -> Response:
    services: Services = request.state.services
    if wants_activity_json(request):
        return await _note_at_page(request)
    account = await current_account(request)
    viewer_actor_id = account.actor_id if account else None
    post_id, handle = path_id(request, "post_id"), request.path_params["handle"]
    found = await services.db.read(lambda session: _post_unit(session, services, post_id, handle, viewer_actor_id))
    author = found.author
    mention = "" if author.id == viewer_actor_id else f"@{author.username}@{author.domain} "
    return await render_page(
        request,
        "post.html",
        {
            "card": found.card,
            "ancestors": found.ancestors,
            "replies": found.replies,
            "likers": found.likers,
            "boosters": found.boosters,
            "reply_prefill": mention,
            "is_own": author.id == viewer_actor_id,
            "replies_host": author.domain if found.has_remote_replies else None,
            "fetching_replies": found.fetching_replies,
        },
        headers={"Vary": "Accept, Cookie"},
        shareable=True,
    )


async def _note_at_page(request: Request) -> Response:
    """An ActivityPub client at a local post's page gets what the note's id serves it, under the same
    check; a remote post's page has no document here."""
    services: Services = request.state.services
    username, _, host = request.path_params["handle"].partition("@")
    if host and host.lower() != services.urls.host.lower():
        raise NotFound("No such post.")
    return await note_response(request, username, path_id(request, "post_id"))


INTERACTIONS = {
    "like": actions.like,
    "unlike": actions.unlike,
    "boost": actions.boost,
    "unboost": actions.unboost,
}


async def interact(request: Request) -> Response:
    """``POST /posts/{id}/{like|unlike|boost|unboost}``."""
    services: Services = request.state.services
    verb = request.path_params["verb"]
    action = INTERACTIONS.get(verb)
    if action is None:
        raise NotFound("Unknown action.")
    account, form = await signed_in_form(request)
    async with services.db.session() as session:
        post, _ = await _find_post(session, path_id(request, "post_id"), account.actor_id)
    await action(services, account.username, post.ap_id)
    if is_htmx(request):
        async with services.db.session() as session:
            card = await load_card(session, services.urls, post, account.actor_id)
        return await render_page(request, "partials/actions_response.html", {"card": card})
    return see_other(safe_next(form.get("next")))


async def delete(request: Request) -> Response:
    services: Services = request.state.services
    account, _ = await signed_in_form(request)
    async with services.db.session() as session:
        post, _author = await _find_post(session, path_id(request, "post_id"), account.actor_id)
    await actions.delete_post(services, account.username, post.ap_id)
    return htmx_redirect(request, f"/@{account.username}")


async def pin(request: Request) -> Response:
    """``POST /posts/{id}/pin`` and ``/unpin``: the author pins the post to their profile or unpins it
    (``actions.pin``, which also tells their followers' servers)."""
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    async with services.db.session() as session:
        post, _author = await _find_post(session, path_id(request, "post_id"), account.actor_id)
    change = actions.unpin if request.url.path.endswith("/unpin") else actions.pin
    await change(services, account.username, post.ap_id)
    return htmx_redirect(request, safe_next(form.get("next")))


@dataclass(frozen=True)
class _Picture:
    id: int
    thumbnail_url: str
    alt_text: str


async def _own_card(request: Request, account: Account) -> PostCard:
    """The signed-in author's own post in the path (anyone else's is not found)."""
    services: Services = request.state.services
    post_id = path_id(request, "post_id")

    def load(session: Session) -> PostCard:
        post, _ = _visible_post(session, post_id, account.actor_id)
        if post.author_id != account.actor_id:
            raise NotFound("This post does not exist, or you may not see it.")
        return card(session, services.urls, post, account.actor_id)

    return await services.db.read(load)


async def _edit_form(
    request: Request, found: PostCard, *, caption: str | None = None, error: str = "", status_code: int = 200
) -> Response:
    pictures = [
        _Picture(media.id or 0, image.thumbnail_url, media.alt_text)
        for media in found.view.media
        if (image := image_view(media, request.state.services.urls))
    ]
    return await render_page(
        request,
        "post_edit.html",
        {
            "card": found,
            "pictures": pictures,
            "caption": (found.post.source_text or "") if caption is None else caption,
            "max_caption": MAX_CAPTION_LENGTH,
            "max_cw": MAX_CONTENT_WARNING_LENGTH,
            "max_alt_text": MAX_ALT_TEXT,
            "error": error,
        },
        status_code=status_code,
    )


async def edit_page(request: Request) -> Response:
    """``GET /posts/{id}/edit``: the author's form for caption, content warning, sensitivity and alt texts."""
    account = await current_account(request)
    if account is None:
        return see_other(f"/login?next=/posts/{path_id(request, 'post_id')}/edit")
    return await _edit_form(request, await _own_card(request, account))


async def edit(request: Request) -> Response:
    """``POST /posts/{id}/edit``: ``actions.edit_post`` (``Update{Note}``; the old version kept in the
    history), then back to the post; what it refuses comes back in the form. A picture ticked
    ``remove_<id>`` is taken out (and deleted)."""
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    found = await _own_card(request, account)
    caption = text_field(form, "caption", max_length=MAX_CAPTION_LENGTH, strip=False).strip()
    kept = [media.id or 0 for media in found.view.media if not checkbox(form, f"remove_{media.id}")]
    try:
        alt_texts = {
            media.id or 0: text_field(form, f"alt_text_{media.id}", max_length=MAX_ALT_TEXT, label="Alt text")
            for media in found.view.media
            if f"alt_text_{media.id}" in form
        }
        await actions.edit_post(
            services,
            account.username,
            found.post.ap_id,
            caption=caption,
            content_warning=text_field(
                form, "content_warning", max_length=MAX_CONTENT_WARNING_LENGTH, label="Content warning"
            ),
            sensitive=checkbox(form, "sensitive"),
            alt_texts=alt_texts,
            media_ids=kept if len(kept) != len(found.view.media) else None,
        )
    except BadRequest as error:
        return await _edit_form(request, found, caption=caption, error=str(error), status_code=400)
    return htmx_redirect(request, found.page_url)


async def load_replies(request: Request) -> Response:
    """``POST /posts/{id}/replies/fetch``: queue the fetch of a remote post's replies collection; the
    worker stores them and the page shows them on the next load."""
    services: Services = request.state.services
    account, form = await signed_in_form(request)
    async with services.db.transaction() as session:
        post, _ = await _find_post(session, path_id(request, "post_id"), account.actor_id)
        if replies_collection(post) is None:
            raise NotFound("This post has no replies to load from its server.")
        await queue_replies_fetch(session, post)
    services.wake_worker("fetches")
    return htmx_redirect(request, safe_next(form.get("next")))


routes = [
    Route("/@{handle}/{post_id:id}", post_page),
    Route("/posts/{post_id:id}/delete", delete, methods=["POST"]),
    Route("/posts/{post_id:id}/edit", edit_page, methods=["GET"]),
    Route("/posts/{post_id:id}/edit", edit, methods=["POST"]),
    Route("/posts/{post_id:id}/replies/fetch", load_replies, methods=["POST"]),
    Route("/posts/{post_id:id}/pin", pin, methods=["POST"]),
    Route("/posts/{post_id:id}/unpin", pin, methods=["POST"]),
    Route("/posts/{post_id:id}/{verb}", interact, methods=["POST"]),
]
