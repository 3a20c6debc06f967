"""ActivityStreams 2.0 vocabulary: constants, the JSON-LD contexts we emit, and tolerant readers.

AS2 properties may hold a string, an object or a list of either (AS2 Core §4.1); the readers here
accept all three so callers never index into raw JSON by hand.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

JsonObject = dict[str, Any]

AS2_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
PUBLIC_ALIASES = frozenset({PUBLIC, "as:Public", "Public"})

AS2_MEDIA_TYPE = "application/activity+json"
LD_MEDIA_TYPE = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
JRD_MEDIA_TYPE = "application/jrd+json"
#: What we send as ``Accept`` when fetching ActivityPub documents (Mastodon's choice).
FETCH_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'

ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})

#: Reverie's own JSON-LD terms, for the provenance of generated images.
REVERIE_NS = "https://reverie.social/ns#"

#: The term definitions Mastodon declares inline (app/helpers/context_helper.rb), plus ours.
EXTENSION_TERMS: JsonObject = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "movedTo": {"@id": "as:movedTo", "@type": "@id"},
    "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
    "toot": "http://joinmastodon.org/ns#",
    "featured": {"@id": "toot:featured", "@type": "@id"},
    "featuredTags": {"@id": "toot:featuredTags", "@type": "@id"},
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "blurhash": "toot:blurhash",
    "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
    "webfinger": "https://purl.archive.org/socialweb/webfinger#webfinger",
    "reverie": REVERIE_NS,
    # The provenance block is a plain node whose members are all declared here, not an ``@json`` literal:
    # ``"@type": "@json"`` is JSON-LD 1.1 only, and a 1.0 processor (pyld, jsonld.js, Friendica) rejects
    # the whole context for it. ``parameters`` holds generator-specific keys, so it is an ``@index`` map
    # (JSON-LD 1.0): each value keeps its key as ``@index``. The compact JSON on the wire is unchanged.
    "generation": {"@id": "reverie:generation"},
    "prompt": "reverie:prompt",
    "negativePrompt": "reverie:negativePrompt",
    "seed": "reverie:seed",
    "backend": "reverie:backend",
    "model": "reverie:model",
    "parameters": {"@id": "reverie:parameters", "@container": "@index"},
    "remixOf": {"@id": "reverie:remixOf", "@type": "@id"},
    "mood": "reverie:mood",
    "digitalSourceType": {"@id": "reverie:digitalSourceType", "@type": "@id"},
    # The type of our Linked Data signatures: Security v1 does not declare it (Mastodon's documents leave it to
    # AS2's blank-node vocabulary). Unused terms add nothing to the signed graph.
    "RsaSignature2017": "https://w3id.org/security#RsaSignature2017",
    # FEP-844e capability discovery (the term WordPress's and Bonfire's contexts give it).
    "implements": {"@id": "https://w3id.org/fep/844e/implements", "@type": "@id", "@container": "@set"},
    # FEP-4c96 content labels (a draft with no published context yet: declared here under its w3id namespace,
    # as FEP-044f's terms are), and SKOS for saying which IPTC digital source type a label stands for.
    "Label": "https://w3id.org/fep/4c96#Label",
    "LabelDefinition": "https://w3id.org/fep/4c96#LabelDefinition",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "exactMatch": {"@id": "skos:exactMatch", "@type": "@id"},
    # Quote posts (decision 0064): FEP-044f's terms under its w3id namespace and the older servers' keys
    # (Fedibird's ``quoteUri``, Misskey's ``_misskey_quote``).
    "quote": {"@id": "https://w3id.org/fep/044f#quote", "@type": "@id"},
    "quoteAuthorization": {"@id": "https://w3id.org/fep/044f#quoteAuthorization", "@type": "@id"},
    "QuoteRequest": "https://w3id.org/fep/044f#QuoteRequest",
    "QuoteAuthorization": "https://w3id.org/fep/044f#QuoteAuthorization",
    "quoteUri": {"@id": "http://fedibird.com/ns#quoteUri", "@type": "@id"},
    "_misskey_quote": {"@id": "https://misskey-hub.net/ns#_misskey_quote", "@type": "@id"},
    # GoToSocial's interaction controls (https://gotosocial.org/ns, decision 0063), which FEP-044f reuses for
    # ``canQuote``: the policy on our posts, the approval an interaction of ours carries, and the
    # authorization objects we serve. Plain 1.0 terms.
    "gts": "https://gotosocial.org/ns#",
    "interactionPolicy": {"@id": "gts:interactionPolicy", "@type": "@id"},
    "canLike": {"@id": "gts:canLike", "@type": "@id"},
    "canReply": {"@id": "gts:canReply", "@type": "@id"},
    "canAnnounce": {"@id": "gts:canAnnounce", "@type": "@id"},
    "canQuote": {"@id": "gts:canQuote", "@type": "@id"},
    "automaticApproval": {"@id": "gts:automaticApproval", "@type": "@id"},
    "manualApproval": {"@id": "gts:manualApproval", "@type": "@id"},
    "approvedBy": {"@id": "gts:approvedBy", "@type": "@id"},
    "likeAuthorization": {"@id": "gts:likeAuthorization", "@type": "@id"},
    "replyAuthorization": {"@id": "gts:replyAuthorization", "@type": "@id"},
    "announceAuthorization": {"@id": "gts:announceAuthorization", "@type": "@id"},
    "LikeAuthorization": "gts:LikeAuthorization",
    "ReplyAuthorization": "gts:ReplyAuthorization",
    "AnnounceAuthorization": "gts:AnnounceAuthorization",
    "interactingObject": {"@id": "gts:interactingObject", "@type": "@id"},
    "interactionTarget": {"@id": "gts:interactionTarget", "@type": "@id"},
}

#: The ``@context`` of every document we serve: AS2 first (Mastodon rejects actors without it).
CONTEXT: list[Any] = [AS2_CONTEXT, SECURITY_CONTEXT, EXTENSION_TERMS]


def with_context(document: JsonObject) -> JsonObject:
    """Return ``document`` with our ``@context`` as its first key."""
    return {"@context": CONTEXT, **{k: v for k, v in document.items() if k != "@context"}}


def as_list(value: Any) -> list[Any]:
    """A property value as a list: ``None`` -> ``[]``, a single value -> ``[value]``."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def get_id(value: Any) -> str | None:
    """The id of a value that may be an IRI string, an object with ``id``, or a Link with ``href``."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        found = value.get("id") or value.get("href")
        return found if isinstance(found, str) and found else None
    return None


def get_ids(value: Any) -> list[str]:
    """The ids of every entry of a property that may be one value or a list."""
    return [found for item in as_list(value) if (found := get_id(item)) is not None]


def get_str(document: Mapping[str, Any], key: str) -> str | None:
    """A string property, or ``None`` when absent or not a string."""
    value = document.get(key)
    return value if isinstance(value, str) else None


def get_bool(document: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = document.get(key)
    return value if isinstance(value, bool) else default


def get_types(document: Mapping[str, Any]) -> set[str]:
    """The ``type`` of a document as a set (AS2 allows several)."""
    return {t for t in as_list(document.get("type")) if isinstance(t, str)}


def has_type(document: Mapping[str, Any], *types: str) -> bool:
    return bool(get_types(document) & set(types))


def iter_objects(value: Any) -> Iterator[Mapping[str, Any]]:
    """The embedded objects (not bare IRIs) of a property that may be one value or a list."""
    for item in as_list(value):
        if isinstance(item, Mapping):
            yield item


def get_url(value: Any) -> str | None:
    """An http(s) URL from a ``url`` property: a string, a Link, or a list of either."""
    for item in as_list(value):
        href = item if isinstance(item, str) else get_id(item)
        if href and href.startswith(("https://", "http://")):
            return href
    return None


def audience(document: Mapping[str, Any]) -> set[str]:
    """Every addressee in ``to``, ``cc``, ``bto``, ``bcc`` and ``audience``."""
    found: set[str] = set()
    for key in ("to", "cc", "bto", "bcc", "audience"):
        found.update(get_ids(document.get(key)))
    return found


def is_public(document: Mapping[str, Any]) -> bool:
    return bool(audience(document) & PUBLIC_ALIASES)
