"""NodeInfo (nodeinfo.diaspora.software schema 2.0 and 2.1): the discovery document and the
documents themselves, validated against the schema's rules before they are served.

Serve both with ``application/json; charset=utf-8``: GoToSocial refuses a 2.1 profile parameter
on the content type (internal/api/util/mime.go), and plain JSON satisfies everyone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from activitypub.errors import InvalidDocumentError
from activitypub.vocab import JsonObject

NodeInfoVersion = Literal["2.0", "2.1"]

NODEINFO_CONTENT_TYPE = "application/json; charset=utf-8"
SCHEMA_REL = "http://nodeinfo.diaspora.software/ns/schema/{version}"
SOFTWARE_NAME = "reverie"

#: Protocol names the schema enumerates (2.0 and 2.1 share the list).
PROTOCOLS = frozenset(
    {"activitypub", "buddycloud", "dfrn", "diaspora", "libertree", "ostatus", "pumpio", "tent", "xmpp", "zot"}
)
_SOFTWARE_NAME = re.compile(r"^[a-z0-9-]+$")


def build_nodeinfo_discovery(base_url: str) -> JsonObject:
    """``/.well-known/nodeinfo``: links to our 2.0 and 2.1 documents (NodeInfo protocol §3)."""
    base = base_url.rstrip("/")
    return {
        "links": [
            {"rel": SCHEMA_REL.format(version=version), "href": f"{base}/nodeinfo/{version}"}
            for version in ("2.0", "2.1")
        ]
    }


def build_nodeinfo(
    version: NodeInfoVersion,
    *,
    software_version: str,
    total_users: int,
    active_month: int,
    active_halfyear: int,
    local_posts: int,
    open_registrations: bool = False,
    metadata: Mapping[str, Any] | None = None,
    protocols: Sequence[str] = ("activitypub",),
    software_name: str = SOFTWARE_NAME,
    repository: str | None = None,
    homepage: str | None = None,
) -> JsonObject:
    """A NodeInfo 2.0 or 2.1 document (schema ``http://nodeinfo.diaspora.software/ns/schema/2.x``).

    Raises ``InvalidDocumentError`` when a value breaks the schema: software name not matching
    ``^[a-z0-9-]+$``, empty version, unknown or no protocols, negative or non-integer counts.
    ``repository`` and ``homepage`` exist in 2.1 only and are dropped from 2.0.
    """
    if version not in ("2.0", "2.1"):
        raise InvalidDocumentError(f"unsupported NodeInfo version {version!r}")
    if not _SOFTWARE_NAME.match(software_name):
        raise InvalidDocumentError("software name must match ^[a-z0-9-]+$")
    if not software_version.strip():
        raise InvalidDocumentError("software version is required")
    if not protocols or not set(protocols) <= PROTOCOLS or len(set(protocols)) != len(protocols):
        raise InvalidDocumentError("protocols must be a non-empty list of known protocol names")
    counts = {"total": total_users, "activeMonth": active_month, "activeHalfyear": active_halfyear}
    for value in (*counts.values(), local_posts):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidDocumentError("usage counts must be non-negative integers")
    software: JsonObject = {"name": software_name, "version": software_version}
    if version == "2.1":
        for key, url in (("repository", repository), ("homepage", homepage)):
            if url is not None:
                if not url.startswith(("https://", "http://")):
                    raise InvalidDocumentError(f"software {key} must be an http(s) URL")
                software[key] = url
    return {
        "version": version,
        "software": software,
        "protocols": list(protocols),
        "services": {"outbound": [], "inbound": []},
        "usage": {"users": counts, "localPosts": local_posts},
        "openRegistrations": bool(open_registrations),
        "metadata": dict(metadata or {}),
    }
