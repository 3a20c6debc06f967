"""Accounts: the caller's own (``verify_credentials``, ``update_credentials``, ``preferences``), any
account by id or ``acct``, its statuses, followers and following.

What an account's statuses and follower lists show is what our pages show: posts through the one read
rule (``core.visibility``), follower lists only for accounts on this instance (we do not copy a remote
server's lists). A profile edit goes through ``fediverse.social.actions.update_profile`` with images
through the same pipeline as the settings page, so followers' servers get the same ``Update``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse.core.errors import BadRequest, UnprocessableEntity
from fediverse.core.text import normalize_tag
from fediverse.federation.sanitize import html_to_text
from fediverse.reads.pins import pinned_post_ids
from fediverse.reads.timelines import AccountFeed, Entry, account_statuses
from fediverse.services import Services
from fediverse.social import actions
from fediverse.social.profiles import MAX_BIO_LENGTH, MAX_DISPLAY_NAME_LENGTH, ProfileChanges
from fediverse.web.client_api.account_lookup import actor_by_acct, path_account
from fediverse.web.client_api.auth import optional_user, require_user
from fediverse.web.client_api.entities import account, credential_account
from fediverse.web.client_api.errors import RecordNotFound
from fediverse.web.client_api.paging import Page, link_header, page_of
from fediverse.web.client_api.params import Params, read_params
from fediverse.web.client_api.relationships import listed_accounts
from fediverse.web.client_api.status_views import render_statuses
from fediverse.web.pages.settings import MAX_UPLOAD_BYTES as MAX_PROFILE_IMAGE_BYTES
from fediverse.web.pages.settings import store_profile_image
from fediverse.web.responses import JSONResponse
from storage.models import Account, Actor, Follow, FollowState

#: ``update_credentials`` may carry an avatar and a header; its body is capped at both plus the form.
MAX_PROFILE_FORM_BYTES = 2 * MAX_PROFILE_IMAGE_BYTES + 64 * 1024
#: Mastodon's limit on a profile field's name and value.
_MAX_FIELD_LENGTH = 255
_PRIVACIES = ("public", "unlisted", "private", "direct")


def _own(session: Session, viewer: Account) -> tuple[Actor, int]:
    actor = session.get(Actor, viewer.actor_id)
    assert actor is not None
    pending = session.scalar(
        select(func.count())
        .select_from(Follow)
        .where(col(Follow.followee_id) == viewer.actor_id, col(Follow.state) == FollowState.PENDING)
    )
    return actor, pending or 0


async def _credential_account(services: Services, viewer: Account) -> Response:
    actor, pending = await services.db.read(lambda session: _own(session, viewer))
    return JSONResponse(
        credential_account(
            actor,
            viewer.is_admin,
            services.urls,
            note=html_to_text(actor.summary_html),
            follow_requests_count=pending,
        )
    )


async def verify_credentials(request: Request) -> Response:
    viewer = await require_user(request, "profile")
    return await _credential_account(request.state.services, viewer)


async def update_credentials(request: Request) -> Response:
    """``display_name``, ``note``, ``locked``, ``discoverable`` and the ``avatar`` and ``header`` files
    (multipart); ``bot``, ``fields_attributes`` and ``source[…]`` are checked and not kept (we have no
    profile fields, and posting defaults are the client's)."""
    services: Services = request.state.services
    viewer = await require_user(request, "write:accounts")
    async with await read_params(request, max_files=2, max_bytes=MAX_PROFILE_FORM_BYTES) as params:
        display_name = params.text("display_name", max_length=MAX_DISPLAY_NAME_LENGTH)
        note = params.text("note", max_length=MAX_BIO_LENGTH)
        locked = params.flag("locked")
        discoverable = params.flag("discoverable")
        _check_unkept(params)
        try:
            avatar = await store_profile_image(services, viewer, params.file("avatar"), avatar=True)
            header = await store_profile_image(services, viewer, params.file("header"), avatar=False)
        except BadRequest as error:
            raise UnprocessableEntity(f"Validation failed: {error}") from error
    current = await services.db.read(lambda session: session.get(Actor, viewer.actor_id))
    assert current is not None
    await actions.update_profile(
        services,
        viewer.username,
        ProfileChanges(
            display_name=current.display_name if display_name is None else display_name,
            bio=html_to_text(current.summary_html) if note is None else note,
            manually_approves_followers=current.manually_approves_followers if locked is None else locked,
            avatar=avatar,
            header=header,
            discoverable=discoverable,
        ),
    )
    return await _credential_account(services, viewer)


def _check_unkept(params: Params) -> None:
    """What Mastodon keeps and we do not is still read, so a malformed value is a 422 as there."""
    params.flag("bot")
    source = params.object("source")
    privacy = source.text("privacy")
    if privacy is not None and privacy not in _PRIVACIES:
        raise UnprocessableEntity(f"source[privacy] must be one of {', '.join(_PRIVACIES)}.")
    source.flag("sensitive")
    source.text("language", max_length=_MAX_FIELD_LENGTH)
    for field in params.objects("fields_attributes"):
        field.text("name", max_length=_MAX_FIELD_LENGTH)
        field.text("value", max_length=_MAX_FIELD_LENGTH)


async def get_account(request: Request) -> Response:
    services: Services = request.state.services
    await optional_user(request, "read:accounts")
    actor = await path_account(request)
    return JSONResponse(account(actor, services.urls))


async def lookup(request: Request) -> Response:
    """``?acct=name`` or ``name@host``: an account we already know (no network, as Mastodon's lookup)."""
    services: Services = request.state.services
    await optional_user(request, "read:accounts")
    acct = ((await read_params(request)).text("acct") or "").strip()
    if not acct:
        raise BadRequest("Missing parameter: acct.")
    if len(acct) > 600:
        raise RecordNotFound()
    actor = await services.db.read(lambda session: actor_by_acct(session, acct, services.urls.host))
    if actor is None:
        raise RecordNotFound()
    return JSONResponse(account(actor, services.urls))


async def statuses(request: Request) -> Response:
    """An account's statuses as the caller may see them: ``only_media``, ``exclude_replies``,
    ``exclude_reblogs``, ``tagged``, and ``pinned`` (the account's pinned posts, newest pin first, one page)."""
    services: Services = request.state.services
    viewer = await optional_user(request, "read:statuses")
    actor = await path_account(request)
    params = await read_params(request)
    page = page_of(request)
    if params.flag("pinned"):
        return await _pinned(services, viewer, actor, page)
    tagged = params.text("tagged", max_length=200)
    feed = AccountFeed(
        only_media=bool(params.flag("only_media")),
        exclude_replies=bool(params.flag("exclude_replies")),
        exclude_reblogs=bool(params.flag("exclude_reblogs")),
        tagged=normalize_tag(tagged.lstrip("#")) if tagged else None,
    )
    assert actor.id is not None
    author_id = actor.id
    entries = await services.db.read(
        lambda session: account_statuses(
            session,
            author_id,
            viewer.actor_id if viewer else None,
            feed,
            max_id=page.max_id,
            newer_than=page.newer,
            oldest_first=page.min_id is not None,
            limit=page.limit,
        )
    )
    rendered = await render_statuses(services, viewer, entries)
    return JSONResponse(rendered, headers=link_header(request, [entry.entry_id for entry in entries]))


async def _pinned(services: Services, viewer: Account | None, actor: Actor, page: Page) -> Response:
    """Pinned posts (``reads.pins``) the caller may see, within the page's ids as Mastodon applies them (no
    ``Link``: five at most); a remote account's pins are not known here."""
    author_id = actor.id or 0

    def load(session: Session) -> list[Entry]:
        ids = pinned_post_ids(session, author_id, viewer_id)
        inside = [post_id for post_id in ids if page.max_id is None or post_id < page.max_id]
        inside = [post_id for post_id in inside if page.newer is None or post_id > page.newer]
        return [Entry(post_id, post_id) for post_id in inside][: page.limit]

    viewer_id = viewer.actor_id if viewer else None
    entries = await services.db.read(load)
    return JSONResponse(await render_statuses(services, viewer, entries))


async def follow_list(request: Request) -> Response:
    """``:id/followers`` and ``:id/following``: accepted follows of an account here; a remote account's
    lists are its server's, and we show none of them (as our pages do)."""
    await optional_user(request, "read:accounts")
    actor = await path_account(request)
    if not actor.is_local:
        return JSONResponse([])
    followers = request.url.path.endswith("/followers")
    mine, theirs = (
        (col(Follow.followee_id), col(Follow.follower_id))
        if followers
        else (col(Follow.follower_id), col(Follow.followee_id))
    )
    query = (
        select(Actor)
        .join(Follow, theirs == col(Actor.id))
        .where(mine == actor.id, col(Follow.state) == FollowState.ACCEPTED)
    )
    return await listed_accounts(request, query, col(Follow.id))


async def empty_for_account(request: Request) -> Response:
    """An account's featured tags and identity proofs: we keep none (an unknown account is 404)."""
    await optional_user(request, "read:accounts")
    await path_account(request)
    return JSONResponse([])


async def preferences(request: Request) -> Response:
    """Mastodon's ``Preferences``: what a new post defaults to. We keep no per-account defaults."""
    await require_user(request, "read:accounts")
    document: dict[str, Any] = {
        "posting:default:visibility": "public",
        "posting:default:sensitive": False,
        "posting:default:language": None,
        "posting:default:quote_policy": "nobody",
        "reading:expand:media": "default",
        "reading:expand:spoilers": False,
        "reading:autoplay:gifs": False,
    }
    return JSONResponse(document)


async def empty_own_list(request: Request) -> Response:
    """Endorsements and featured tags: Reverie has neither; an empty list with the scope checked."""
    await require_user(request, "read:accounts")
    return JSONResponse([])


_ID = "/api/v1/accounts/{id:id}"

routes: list[BaseRoute] = [
    Route("/api/v1/accounts/verify_credentials", verify_credentials),
    Route("/api/v1/accounts/update_credentials", update_credentials, methods=["PATCH"]),
    Route("/api/v1/accounts/lookup", lookup),
    Route(_ID, get_account),
    Route(f"{_ID}/statuses", statuses),
    Route(f"{_ID}/followers", follow_list),
    Route(f"{_ID}/following", follow_list),
    Route(f"{_ID}/featured_tags", empty_for_account),
    Route(f"{_ID}/identity_proofs", empty_for_account),
    Route("/api/v1/preferences", preferences),
    Route("/api/v1/endorsements", empty_own_list),
    Route("/api/v1/featured_tags", empty_own_list),
]
