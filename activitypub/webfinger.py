"""WebFinger (RFC 7033) and host-meta (RFC 6415): the documents we serve and the lookups we make.

Served documents copy Mastodon's shape (app/serializers/webfinger_serializer.rb). Lookups are as
strict as GoToSocial's (internal/transport/finger.go): a JRD or JSON content type, a ``subject``
whose username is the one asked for, and a ``self`` link of an ActivityStreams type; 410 means the
account is gone; any other non-2xx answer falls back to host-meta's ``lrdd`` template. Requests go
through the same address guard as :mod:`activitypub.fetch`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import quoteattr

import httpx

from activitypub.errors import (
    ContentTypeError,
    FetchError,
    ForeignResourceError,
    GoneError,
    MalformedResourceError,
    WebFingerError,
)
from activitypub.fetch import Resolver, SafeResponse, get_safely, is_activitystreams_content_type, parse_content_type
from activitypub.vocab import AS2_MEDIA_TYPE, JsonObject

PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
WEBFINGER_ACCEPT = "application/jrd+json, application/json"
HOST_META_ACCEPT = "application/xrd+xml, application/xml"
XRD_NAMESPACE = "http://docs.oasis-open.org/ns/xri/xrd-1.0"
JRD_CONTENT_TYPES = frozenset({"application/jrd+json", "application/json"})
XRD_CONTENT_TYPES = frozenset({"application/xrd+xml", "application/xml", "text/xml"})

# A username as Mastodon accepts it (letters, digits, underscores, dots and dashes inside).
_USERNAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?$")
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$")


def build_jrd(
    *,
    username: str,
    domain: str,
    actor_id: str,
    profile_url: str,
    subscribe_template: str | None = None,
) -> JsonObject:
    """The JRD (RFC 7033 §4.4) for a local account, in Mastodon's shape.

    ``subscribe_template`` is the remote-follow URL template with ``{uri}``, e.g.
    ``https://img.example/authorize_interaction?uri={uri}``.
    """
    links: list[JsonObject] = [
        {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url},
        {"rel": "self", "type": AS2_MEDIA_TYPE, "href": actor_id},
    ]
    if subscribe_template is not None:
        links.append({"rel": SUBSCRIBE_REL, "template": subscribe_template})
    return {
        "subject": f"acct:{username}@{domain}",
        "aliases": list(dict.fromkeys([profile_url, actor_id])),
        "links": links,
    }


#: FEP-d556's link relation for a server-level actor.
SERVICE_REL = "https://www.w3.org/ns/activitystreams#Service"


def build_server_jrd(*, subject: str, actor_id: str, profile_url: str) -> JsonObject:
    """The JRD for the server itself (FEP-d556: ``resource`` is the server's origin): its server-level actor
    under the ``as:Service`` relation, and as ``self`` too (no user actor lives at the origin, so the
    readers that look only for ``self``, as Mastodon's does, find it)."""
    return {
        "subject": subject,
        "aliases": [actor_id],
        "links": [
            {"rel": SERVICE_REL, "type": AS2_MEDIA_TYPE, "href": actor_id},
            {"rel": "self", "type": AS2_MEDIA_TYPE, "href": actor_id},
            {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url},
        ],
    }


def build_host_meta(webfinger_url: str) -> str:
    """The host-meta XRD (RFC 6415 §2) pointing at our WebFinger endpoint.

    ``webfinger_url`` is e.g. ``https://img.example/.well-known/webfinger``; serve the result as
    ``application/xrd+xml``.
    """
    template = f"{webfinger_url}?resource={{uri}}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<XRD xmlns="{XRD_NAMESPACE}">\n'
        f'  <Link rel="lrdd" template={quoteattr(template)}/>\n'
        "</XRD>\n"
    )


@dataclass(frozen=True)
class AccountResource:
    """A ``resource`` naming a local account by handle: serve that user's JRD."""

    username: str


@dataclass(frozen=True)
class UrlResource:
    """A ``resource`` that is one of our URLs (an actor id or profile page): the app maps it."""

    url: str


def parse_resource(resource: str, our_host: str) -> AccountResource | UrlResource:
    """Parse a WebFinger ``resource`` query parameter (RFC 7033 §4.1) aimed at this server.

    Accepts ``acct:user@host``, ``user@host``, ``@user@host`` and http(s) URLs on ``our_host``.
    Raises ``MalformedResourceError`` (answer 400) or ``ForeignResourceError`` (answer 404).
    """
    value = resource.strip()
    host = our_host.lower()
    if value.lower().startswith(("https://", "http://")):
        parts = urlsplit(value)
        if not parts.netloc:
            raise MalformedResourceError("malformed resource", resource=resource)
        if parts.netloc.lower() != host:
            raise ForeignResourceError("resource is not on this server", resource=resource)
        return UrlResource(value)
    if value.lower().startswith("acct:"):
        value = value[5:]
    value = value.removeprefix("@")
    username, sep, domain = value.rpartition("@")
    if not sep or not _USERNAME.match(username) or not _HOST.match(domain):
        raise MalformedResourceError("malformed resource", resource=resource)
    if domain.lower() != host:
        raise ForeignResourceError("resource is not on this server", resource=resource)
    return AccountResource(username)


def split_handle(handle: str) -> tuple[str, str]:
    """``user@host``, ``@user@host`` or ``acct:user@host`` as (username, host)."""
    value = handle.strip()
    if value.lower().startswith("acct:"):
        value = value[5:]
    value = value.removeprefix("@")
    username, sep, host = value.rpartition("@")
    if not sep or not _USERNAME.match(username) or not _HOST.match(host):
        raise WebFingerError("not a user@host handle", resource=handle)
    return username, host.lower()


@dataclass(frozen=True)
class WebFingerResult:
    subject: str
    actor_id: str
    subscribe_template: str | None = None  # remote-follow URL with ``{uri}`` (OStatus subscribe link)


async def lookup_webfinger(
    client: httpx.AsyncClient,
    handle: str,
    *,
    allow_private: bool = False,
    resolver: Resolver | None = None,
    scheme: str = "https",
) -> WebFingerResult:
    """Resolve ``user@host`` to its actor id with WebFinger (RFC 7033 §4), falling back to host-meta.

    Raises ``GoneError`` on 410 (the account was deleted: Mastodon deletes its copy),
    ``WebFingerError`` when no trustworthy answer comes, ``FetchError`` subclasses for transport
    and safety failures. ``scheme="http"`` is for loopback development only.
    """
    username, host = split_handle(handle)
    resource = f"acct:{username}@{host}"
    url = f"{scheme}://{host}/.well-known/webfinger?resource={quote(resource, safe='@:')}"

    async def get(target: str, accept: str) -> SafeResponse:
        return await get_safely(client, target, accept=accept, allow_private=allow_private, resolver=resolver)

    response = await get(url, WEBFINGER_ACCEPT)
    if response.status_code == 410:
        raise GoneError("account is gone", url=response.url, status=410)
    if not 200 <= response.status_code < 300:
        template = await _lookup_lrdd_template(get, f"{scheme}://{host}/.well-known/host-meta", handle)
        url = template.replace("{uri}", quote(resource, safe=""))
        response = await get(url, WEBFINGER_ACCEPT)
        if response.status_code == 410:
            raise GoneError("account is gone", url=response.url, status=410)
        if not 200 <= response.status_code < 300:
            raise WebFingerError(f"WebFinger answered {response.status_code}", resource=handle)
    return _read_jrd(response.headers.get("content-type", ""), response.content, username, handle, response.url)


async def lookup_webfinger_subject(
    client: httpx.AsyncClient,
    actor_id: str,
    *,
    allow_private: bool = False,
    resolver: Resolver | None = None,
    scheme: str = "https",
) -> WebFingerResult:
    """Ask the server of ``actor_id`` which ``acct:`` address names it: WebFinger with the actor's id as the
    resource (RFC 7033 §4.5), as Mastodon and GoToSocial answer it. The answer counts only when its
    ``self`` link is the actor id itself. Raises ``WebFingerError`` (or a ``FetchError``) otherwise."""
    host = urlsplit(actor_id).netloc
    if not host or not _HOST.match(host):
        raise WebFingerError("the actor id has no host", resource=actor_id)
    url = f"{scheme}://{host}/.well-known/webfinger?resource={quote(actor_id, safe='')}"
    response = await get_safely(client, url, accept=WEBFINGER_ACCEPT, allow_private=allow_private, resolver=resolver)
    if not 200 <= response.status_code < 300:
        raise WebFingerError(f"WebFinger answered {response.status_code}", resource=actor_id)
    try:
        document = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise WebFingerError("WebFinger answer is not JSON", resource=actor_id) from error
    subject = document.get("subject") if isinstance(document, dict) else None
    if not isinstance(subject, str) or not subject.startswith("acct:"):
        raise WebFingerError("WebFinger answer has no acct: subject", resource=actor_id)
    username, _ = split_handle(subject)
    found = _read_jrd(response.headers.get("content-type", ""), response.content, username, actor_id, response.url)
    if found.actor_id != actor_id:
        raise WebFingerError("WebFinger answer names another actor", resource=actor_id, detail=found.actor_id)
    return found


def _read_jrd(content_type: str, content: bytes, username: str, handle: str, url: str) -> WebFingerResult:
    if parse_content_type(content_type)[0] not in JRD_CONTENT_TYPES:
        raise ContentTypeError("WebFinger answer is not JRD", url=url, detail=content_type)
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise WebFingerError("WebFinger answer is not JSON", resource=handle) from error
    if not isinstance(document, dict):
        raise WebFingerError("WebFinger answer is not an object", resource=handle)
    subject = document.get("subject")
    if not isinstance(subject, str) or not subject:
        raise WebFingerError("WebFinger answer has no subject", resource=handle)
    subject_user = subject.removeprefix("acct:").rpartition("@")[0]
    # GoToSocial compares the username case-sensitively; so do we.
    if subject_user != username:
        raise WebFingerError("WebFinger subject names another account", resource=handle, detail=subject)
    raw_links = document.get("links")
    links = [link for link in raw_links if isinstance(link, dict)] if isinstance(raw_links, list) else []
    subscribe = next(
        (
            link["template"]
            for link in links
            if link.get("rel") == SUBSCRIBE_REL
            and isinstance(link.get("template"), str)
            and link["template"].lower().startswith(("https://", "http://"))
            and "{uri}" in link["template"]
        ),
        None,
    )
    for link in links:
        if link.get("rel") != "self":
            continue
        href, link_type = link.get("href"), link.get("type")
        if (
            isinstance(href, str)
            and isinstance(link_type, str)
            and is_activitystreams_content_type(link_type)
            and href.lower().startswith(("https://", "http://"))
        ):
            return WebFingerResult(subject=subject, actor_id=href, subscribe_template=subscribe)
    raise WebFingerError("WebFinger answer has no ActivityPub self link", resource=handle)


async def _lookup_lrdd_template(get: Callable[[str, str], Awaitable[SafeResponse]], url: str, handle: str) -> str:
    try:
        response = await get(url, HOST_META_ACCEPT)
    except FetchError as error:
        raise WebFingerError("WebFinger failed and host-meta is unavailable", resource=handle) from error
    if response.status_code != 200:
        raise WebFingerError("WebFinger failed and host-meta is unavailable", resource=handle)
    if parse_content_type(response.headers.get("content-type", ""))[0] not in XRD_CONTENT_TYPES:
        raise WebFingerError("host-meta is not XRD", resource=handle)
    # Refuse DTDs outright: no entity expansion, whatever the XML parser's defaults.
    if b"<!DOCTYPE" in response.content.upper() or b"<!ENTITY" in response.content.upper():
        raise WebFingerError("host-meta carries a DTD", resource=handle)
    from xml.etree import ElementTree  # only here, for the rare server without WebFinger (~0.5 MiB)

    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError as error:
        raise WebFingerError("host-meta is not XML", resource=handle) from error
    for link in root.iter(f"{{{XRD_NAMESPACE}}}Link"):
        template = link.get("template")
        if link.get("rel") == "lrdd" and template and "{uri}" in template:
            return template
    raise WebFingerError("host-meta has no lrdd template", resource=handle)
