"""Remote actor documents -> ``Actor`` fields (GoToSocial's ``astointernal`` direction), checked as
Mastodon checks them (``ProcessAccountService``, ``federation.md`` §2.1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import ACTOR_TYPES, get_bool, get_id, get_ids, get_str, get_types, get_url
from fediverse.core.names import clean_display_name, is_plain_host, is_remote_username
from fediverse.federation.sanitize import sanitize_html

MAX_NAME_LENGTH = 2048
MAX_SUMMARY_LENGTH = 20_000
MAX_ID_LENGTH = 2048
#: The aliases (``alsoKnownAs``) kept of a remote actor; Mastodon lets its users add a handful.
MAX_ALIASES = 20


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


def parse_datetime(value: Any) -> datetime | None:
    """An AS2 ``xsd:dateTime`` as an aware UTC datetime; ``None`` when missing or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def actor_fields(
    document: dict[str, Any], *, username: str | None = None, address: tuple[str, str] | None = None
) -> dict[str, Any]:
    """The ``Actor`` columns described by a remote actor document.

    The username is the one the actor declares (``preferredUsername``, else FEP-2c59's ``webfinger``),
    else ``username`` (what its server's WebFinger calls it, found by the caller), else the last segment of
    its id's path, as Mastodon and GoToSocial name actors that declare none (fediverse-pasture's). The
    domain is the id's host, unless ``address``: a (user, host) the caller has confirmed through WebFinger
    of that address (FEP-2c59 on a split domain), which then names the actor.

    Raises ``InvalidDocumentError`` for what Mastodon would also refuse: no id, an unknown type, no inbox,
    a username with characters no username has, or a key owned by someone else; and for an id whose host
    is not a plain ASCII host name. The display name loses what would disguise a handle
    (``fediverse.core.names``).
    """
    actor_id = get_str(document, "id")
    if not actor_id or not actor_id.startswith(("https://", "http://")):
        raise InvalidDocumentError("actor has no http(s) id")
    types = get_types(document) & ACTOR_TYPES
    if not types:
        raise InvalidDocumentError("not an actor type")
    inbox_url = get_id(document.get("inbox"))
    if not inbox_url:
        raise InvalidDocumentError("actor has no inbox")
    username = declared_username(document) or username or _last_path_segment(actor_id)
    if not username or len(username) > MAX_NAME_LENGTH or not is_remote_username(username):
        raise InvalidDocumentError("actor has no usable username")
    domain = host_of(actor_id)
    if not is_plain_host(domain):
        raise InvalidDocumentError("actor id's host is not a plain ASCII host name")
    if address is not None and is_remote_username(address[0]) and is_plain_host(address[1]):
        username, domain = address
    key = document.get("publicKey")
    if isinstance(key, list):
        key = next((k for k in key if isinstance(k, dict)), None)
    key_id = key_pem = None
    if isinstance(key, dict):
        owner = get_id(key.get("owner"))
        if owner is not None and owner != actor_id:
            raise InvalidDocumentError("the actor's key belongs to someone else")
        key_id, key_pem = get_str(key, "id"), get_str(key, "publicKeyPem")
    endpoints = document.get("endpoints")
    shared_inbox = get_id(endpoints.get("sharedInbox")) if isinstance(endpoints, dict) else None
    shared_inbox = shared_inbox or get_id(document.get("sharedInbox"))
    profile_url = get_url(document.get("url"))
    if profile_url and host_of(profile_url) != domain:  # Mastodon drops a url on another host
        profile_url = None
    return {
        "ap_id": actor_id,
        "type": sorted(types)[0],
        "username": username,
        "domain": domain,
        "display_name": clean_display_name((get_str(document, "name") or "")[:MAX_NAME_LENGTH]),
        "summary_html": sanitize_html((get_str(document, "summary") or "")[:MAX_SUMMARY_LENGTH]),
        "url": profile_url,
        "inbox_url": inbox_url,
        "shared_inbox_url": shared_inbox,
        "outbox_url": get_id(document.get("outbox")),
        "followers_url": get_id(document.get("followers")),
        "following_url": get_id(document.get("following")),
        "public_key_id": key_id,
        "public_key_pem": key_pem,
        "icon_url": get_url(_image_url(document.get("icon"))),
        "header_url": get_url(_image_url(document.get("image"))),
        "manually_approves_followers": get_bool(document, "manuallyApprovesFollowers"),
        "discoverable": get_bool(document, "discoverable"),
        "indexable": get_bool(document, "indexable"),
        "published": parse_datetime(document.get("published")),
        "also_known_as": aliases_of(document) or None,
        "moved_to_ap_id": _http_id(get_id(document.get("movedTo"))),
        "raw": document,
    }


def aliases_of(document: dict[str, Any]) -> list[str]:
    """The actor ids an actor document says are also it (``alsoKnownAs``, FEP-7628): http(s) ids only, at
    most ``MAX_ALIASES``, in order, each once."""
    found = [alias for value in get_ids(document.get("alsoKnownAs")) if (alias := _http_id(value))]
    return list(dict.fromkeys(found))[:MAX_ALIASES]


def _http_id(value: str | None) -> str | None:
    if value and len(value) <= MAX_ID_LENGTH and value.startswith(("https://", "http://")):
        return value
    return None


def _image_url(value: Any) -> Any:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return value.get("url")
    return value


def declared_username(document: dict[str, Any]) -> str | None:
    """The username an actor document gives itself: ``preferredUsername``, else its FEP-2c59 address."""
    return get_str(document, "preferredUsername") or _webfinger_username(document)


def webfinger_address(document: dict[str, Any]) -> tuple[str, str] | None:
    """FEP-2c59's ``webfinger`` (``user@host`` or ``acct:user@host``) as (user, lowercase host)."""
    handle = get_str(document, "webfinger")
    if not handle:
        return None
    user, sep, host = handle.removeprefix("acct:").rpartition("@")
    return (user, host.lower()) if sep and user and host else None


def _last_path_segment(actor_id: str) -> str | None:
    path = urlsplit(actor_id).path.rstrip("/")
    return path.rsplit("/", 1)[-1] or None


def _webfinger_username(document: dict[str, Any]) -> str | None:
    handle = get_str(document, "webfinger")  # FEP-2c59
    if handle:
        return handle.removeprefix("acct:").split("@", 1)[0] or None
    return None
