"""NodeInfo documents as crawlers and GoToSocial read them."""

from __future__ import annotations

from typing import Any

import pytest

from activitypub.errors import InvalidDocumentError
from activitypub.nodeinfo import build_nodeinfo, build_nodeinfo_discovery

USAGE = {"software_version": "0.1.0", "total_users": 3, "active_month": 2, "active_halfyear": 3, "local_posts": 42}


def test_discovery_links_both_versions() -> None:
    assert build_nodeinfo_discovery("https://img.example/") == {
        "links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": "https://img.example/nodeinfo/2.0"},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": "https://img.example/nodeinfo/2.1"},
        ]
    }


def test_nodeinfo_2_0() -> None:
    document = build_nodeinfo("2.0", open_registrations=True, metadata={"nodeName": "Ana's"}, **USAGE)
    assert document == {
        "version": "2.0",
        "software": {"name": "reverie", "version": "0.1.0"},
        "protocols": ["activitypub"],
        "services": {"outbound": [], "inbound": []},
        "usage": {"users": {"total": 3, "activeMonth": 2, "activeHalfyear": 3}, "localPosts": 42},
        "openRegistrations": True,
        "metadata": {"nodeName": "Ana's"},
    }


def test_repository_only_in_2_1() -> None:
    repo = "https://example.org/reverie"
    assert build_nodeinfo("2.1", repository=repo, **USAGE)["software"]["repository"] == repo
    assert "repository" not in build_nodeinfo("2.0", repository=repo, **USAGE)["software"]


@pytest.mark.parametrize(
    "override",
    [
        {"software_name": "Reverie"},
        {"software_version": " "},
        {"protocols": ()},
        {"protocols": ("activitypub", "smtp")},
        {"total_users": -1},
        {"local_posts": True},
        {"version": "3.0"},
    ],
)
def test_schema_violations_are_refused(override: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"version": "2.1", **USAGE, **override}
    with pytest.raises(InvalidDocumentError):
        build_nodeinfo(**arguments)
