"""FEP-4c96 content labels for machine-made images (issue 12, item 12; decision 0058).

A post whose images a generator made carries, in its ``tag`` (and in each such image's own ``tag``), a
``Label`` that links to a ``LabelDefinition`` this server publishes: one per IPTC digital source type we
emit, each saying which type it stands for (``skos:exactMatch``), so a server or client can filter on the
label (or on the IPTC term, the same across every Reverie) without knowing our provenance terms. The
definitions form the vocabulary ``/labels`` (a ``Collection``); their ids never change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from activitypub.vocab import JsonObject, with_context
from fediverse.core.urls import Urls
from fediverse.generation.base import IPTC_DIGITAL_SOURCE_TYPE


@dataclass(frozen=True)
class LabelKind:
    slug: str
    name: str
    summary: str
    source_type: str  # the IPTC digital source type IRI it stands for


LABELS = (
    LabelKind(
        "ai-generated",
        "AI-generated",
        "Made by a generative AI model trained on other media (IPTC digital source type: trained algorithmic media).",
        IPTC_DIGITAL_SOURCE_TYPE + "trainedAlgorithmicMedia",
    ),
    LabelKind(
        "ai-composite",
        "Partly AI-generated",
        "Combines AI-generated elements with other media (IPTC: composite with trained algorithmic media).",
        IPTC_DIGITAL_SOURCE_TYPE + "compositeWithTrainedAlgorithmicMedia",
    ),
    LabelKind(
        "computer-generated",
        "Computer-generated",
        "Made by an algorithm without a trained model, such as a procedural painter (IPTC: algorithmic media).",
        IPTC_DIGITAL_SOURCE_TYPE + "algorithmicMedia",
    ),
)
BY_SOURCE_TYPE = {kind.source_type: kind for kind in LABELS}
BY_SLUG = {kind.slug: kind for kind in LABELS}


def label_for(source_type: str | None, urls: Urls) -> JsonObject | None:
    """The ``Label`` (a ``Link`` in ``tag``) for an image of ``source_type``, or ``None`` for a type we do not
    label (a photo, or no type at all)."""
    kind = BY_SOURCE_TYPE.get(source_type or "")
    if kind is None:
        return None
    return {"type": "Label", "href": urls.label_id(kind.slug), "name": kind.name}


def labels_for(source_types: Iterable[str | None], urls: Urls) -> list[JsonObject]:
    """One ``Label`` per distinct labelled type, in order of first appearance."""
    found: dict[str, JsonObject] = {}
    for source_type in source_types:
        label = label_for(source_type, urls)
        if label is not None:
            found.setdefault(label["href"], label)
    return list(found.values())


def label_definition(kind: LabelKind, urls: Urls) -> JsonObject:
    return with_context(
        {
            "id": urls.label_id(kind.slug),
            "type": "LabelDefinition",
            "name": kind.name,
            "summary": kind.summary,
            "url": kind.source_type,  # IPTC's page about the term
            "context": urls.labels_id(),
            "exactMatch": kind.source_type,
        }
    )


def label_vocabulary(urls: Urls) -> JsonObject:
    return with_context(
        {
            "id": urls.labels_id(),
            "type": "Collection",
            "name": "How an image was made",
            "totalItems": len(LABELS),
            "items": [{"id": urls.label_id(kind.slug), "type": "LabelDefinition"} for kind in LABELS],
        }
    )
