"""What a client asks first: ``/api/v1/instance`` and ``/api/v2/instance`` (who we are, our real limits),
the peers we know, custom emojis (none) and the instance's rules and description.

``version`` says "4.3.0 (compatible; Reverie X.Y.Z)": clients switch features on by Mastodon's version
number (Mastodon.py refuses to talk to a server whose version it cannot read), and ``api_versions`` says
which of Mastodon's API revisions we follow. The limits are the ones our code enforces: captions
(``core.text``), images per post (``social.posts``), upload size and pixels (``imaging``), alt text
(``studio.drafts``). The counts are cheap ones: the local actors' counters and one count per table.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse import __version__
from fediverse.core.instance_settings import InstanceInfo, instance_settings
from fediverse.core.text import MAX_CAPTION_LENGTH
from fediverse.core.urls import Urls
from fediverse.imaging import ImageLimits
from fediverse.services import Services
from fediverse.social.pins import MAX_PINS
from fediverse.social.posts import MAX_ATTACHMENTS
from fediverse.studio.drafts import MAX_ALT_TEXT
from fediverse.web.client_api.entities import Json, account, iso
from fediverse.web.responses import JSONResponse
from fediverse.web.uploads import ACCEPTED_TYPES, MAX_IMAGE_BYTES
from storage.models import Account, Actor, DomainBlock
from storage.types import utcnow

#: The Mastodon release whose API we follow; clients compare against it.
MASTODON_VERSION = "4.3.0"
#: Mastodon counts every link as this many characters; we count a caption's characters as typed.
CHARACTERS_RESERVED_PER_URL = 23
#: A cached answer is fine for these (the counts may be a minute old); apps call them often.
_CACHE = {"Cache-Control": "public, max-age=60"}


def version_string() -> str:
    return f"{MASTODON_VERSION} (compatible; Reverie {__version__})"


@dataclass(frozen=True)
class _Numbers:
    users: int
    active_month: int
    statuses: int
    domains: int
    contact: Actor | None


def _numbers(session: Session) -> _Numbers:
    month_ago = utcnow() - timedelta(days=30)
    users = session.scalar(select(func.count()).select_from(Account).where(col(Account.disabled_at).is_(None)))
    active = session.scalar(
        select(func.count())
        .select_from(Account)
        .where(col(Account.disabled_at).is_(None), col(Account.last_active_at) >= month_ago)
    )
    statuses = session.scalar(
        select(func.coalesce(func.sum(col(Actor.posts_count)), 0)).where(col(Actor.is_local).is_(True))
    )
    domains = session.scalar(select(func.count(distinct(col(Actor.domain)))).where(col(Actor.is_local).is_(False)))
    contact = session.scalar(
        select(Actor)
        .join(Account, col(Account.actor_id) == col(Actor.id))
        .where(col(Account.is_admin).is_(True), col(Account.disabled_at).is_(None))
        .order_by(col(Account.id))
        .limit(1)
    )
    return _Numbers(users or 0, active or 0, int(statuses or 0), domains or 0, contact)


def streaming_url(urls: Urls) -> str:
    """``wss://host`` (``ws://`` for a plain-HTTP test instance): where clients open the streaming API."""
    scheme = "ws" if urls.base_url.startswith("http://") else "wss"
    return f"{scheme}://{urls.host}"


def description_html(text: str) -> str:
    """The admin's plain-text description as HTML paragraphs."""
    paragraphs = [part.strip() for part in text.replace("\r\n", "\n").split("\n\n") if part.strip()]
    return "".join(f"<p>{html.escape(part).replace(chr(10), '<br>')}</p>" for part in paragraphs)


def _limits() -> dict[str, Any]:
    limits = ImageLimits()
    return {
        "accounts": {"max_featured_tags": 0, "max_pinned_statuses": MAX_PINS},
        "statuses": {
            "max_characters": MAX_CAPTION_LENGTH,
            "max_media_attachments": MAX_ATTACHMENTS,
            "characters_reserved_per_url": CHARACTERS_RESERVED_PER_URL,
        },
        "media_attachments": {
            "supported_mime_types": ACCEPTED_TYPES.split(","),
            "description_limit": MAX_ALT_TEXT,
            "image_size_limit": MAX_IMAGE_BYTES,
            "image_matrix_limit": limits.max_pixels,
            "video_size_limit": 0,
            "video_frame_rate_limit": 0,
            "video_matrix_limit": 0,
        },
        "polls": {"max_options": 0, "max_characters_per_option": 0, "min_expiration": 0, "max_expiration": 0},
    }


async def _gather(request: Request) -> tuple[Services, InstanceInfo, _Numbers]:
    services: Services = request.state.services
    info = await instance_settings(services.db, services.settings)
    return services, info, await services.db.read(_numbers)


def instance_v2(urls: Urls, info: InstanceInfo, numbers: _Numbers) -> Json:
    """Mastodon's ``Instance`` (``/api/v2/instance``)."""
    thumbnail = urls.absolute("/static/header.png")
    return {
        "domain": urls.host,
        "title": info.name,
        "version": version_string(),
        "source_url": urls.absolute("/about"),  # no public repository is named anywhere yet
        "description": info.description,
        "usage": {"users": {"active_month": numbers.active_month}},
        "thumbnail": {"url": thumbnail, "blurhash": None, "versions": {}},
        "icon": [],
        "languages": ["en"],
        "configuration": {
            "urls": {
                "streaming": streaming_url(urls),
                "status": None,
                "about": urls.absolute("/about"),
                "privacy_policy": None,
                "terms_of_service": None,
            },
            "vapid": {"public_key": ""},
            **_limits(),
            "translation": {"enabled": False},
        },
        "registrations": {
            "enabled": info.registrations == "open",
            "approval_required": False,
            "message": None if info.registrations == "open" else _closed_message(info),
            "url": None,
        },
        "api_versions": {"mastodon": 2},
        "contact": {"email": "", "account": account(numbers.contact, urls) if numbers.contact else None},
        "rules": [],
    }


def instance_v1(urls: Urls, info: InstanceInfo, numbers: _Numbers) -> Json:
    """Mastodon's ``V1::Instance`` (``/api/v1/instance``)."""
    return {
        "uri": urls.host,
        "title": info.name,
        "short_description": info.description,
        "description": description_html(info.description),
        "email": "",
        "version": version_string(),
        "urls": {"streaming_api": streaming_url(urls)},
        "stats": {"user_count": numbers.users, "status_count": numbers.statuses, "domain_count": numbers.domains},
        "thumbnail": urls.absolute("/static/header.png"),
        "languages": ["en"],
        "registrations": info.registrations == "open",
        "approval_required": False,
        "invites_enabled": info.registrations == "invite",
        "configuration": _limits(),
        "contact_account": account(numbers.contact, urls) if numbers.contact else None,
        "rules": [],
    }


def _closed_message(info: InstanceInfo) -> str:
    if info.registrations == "invite":
        return "<p>Joining needs an invite from someone here.</p>"
    return "<p>This server is not taking new accounts.</p>"


async def get_instance_v1(request: Request) -> Response:
    services, info, numbers = await _gather(request)
    return JSONResponse(instance_v1(services.urls, info, numbers), headers=_CACHE)


async def get_instance_v2(request: Request) -> Response:
    services, info, numbers = await _gather(request)
    return JSONResponse(instance_v2(services.urls, info, numbers), headers=_CACHE)


def _peers(session: Session) -> list[str]:
    blocked = select(col(DomainBlock.domain))
    return list(
        session.scalars(
            select(col(Actor.domain))
            .distinct()
            .where(col(Actor.is_local).is_(False), col(Actor.domain).not_in(blocked))
            .order_by(col(Actor.domain))
        )
    )


async def peers(request: Request) -> Response:
    """The domains of the remote accounts we know (less those the admin blocked)."""
    services: Services = request.state.services
    return JSONResponse(await services.db.read(_peers), headers=_CACHE)


async def extended_description(request: Request) -> Response:
    services: Services = request.state.services
    info = await instance_settings(services.db, services.settings)
    # The settings keep no time of change; clients only show the date.
    return JSONResponse({"updated_at": iso(utcnow()), "content": description_html(info.description)})


async def empty_list(_request: Request) -> Response:
    """Rules, weekly activity and custom emojis: we keep none of them."""
    return JSONResponse([])


def _both(path: str) -> list[str]:
    return [path, path + "/"]


routes: list[BaseRoute] = [
    *(Route(path, get_instance_v1) for path in _both("/api/v1/instance")),
    *(Route(path, get_instance_v2) for path in _both("/api/v2/instance")),
    Route("/api/v1/instance/peers", peers),
    Route("/api/v1/instance/activity", empty_list),
    Route("/api/v1/instance/rules", empty_list),
    Route("/api/v1/instance/extended_description", extended_description),
    Route("/api/v1/custom_emojis", empty_list),
]
