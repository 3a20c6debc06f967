"""C2PA manifests on generated images, signed with the instance's own key kept in the data folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from starlette.testclient import TestClient

pytest.importorskip("c2pa")

from fediverse.generation import ALGORITHMIC_MEDIA
from fediverse.generation.c2pa_signing import read_c2pa
from fediverse.studio.signing import SIGNER_FILE
from tests.conftest import TEST_BASE_URL
from tests.fediverse.studio.conftest import create_user, generate, sign_in


def instance_root_certificate(data_dir: Path) -> bytes:
    certificates = x509.load_pem_x509_certificates((data_dir / "c2pa" / SIGNER_FILE).read_bytes())
    return certificates[-1].public_bytes(serialization.Encoding.PEM)


def test_generated_images_are_signed_with_the_instance_key(
    client_with: Callable[..., TestClient], tmp_path: Path
) -> None:
    # Given an instance that signs what it generates
    data_dir = tmp_path / "data"
    client = client_with(REVERIE_C2PA="true", REVERIE_DATA_DIR=str(data_dir))
    ana = sign_in(client, create_user(client, "ana"))
    # When ana generates an image
    draft = generate(ana, prompt="a quiet harbour", seed=9)["media"][0]
    # Then its file carries a manifest that validates against the instance's own root, without the prompt
    signed = client.get(draft["url"].removeprefix(TEST_BASE_URL)).content
    root = instance_root_certificate(data_dir)
    report = read_c2pa(signed, draft["mime"], trust_anchor_pem=root)
    assert report is not None and report.state == "Trusted"
    assert report.digital_source_types == [ALGORITHMIC_MEDIA]
    assert "a quiet harbour" not in str(report.manifest)
    assert (data_dir / "c2pa" / SIGNER_FILE).stat().st_mode & 0o077 == 0  # the key is the owner's alone
    # When she publishes it with the prompt hidden, the re-stamped file is signed afresh
    post = ana.post("/api/posts", json={"media_ids": [draft["id"]], "hide_prompt": True}).json()
    note = ana.get("/users/ana/outbox?page=true", headers={"Accept": "application/activity+json"}).json()
    attachment = note["orderedItems"][0]["object"]["attachment"][0]
    assert note["orderedItems"][0]["object"]["id"] == post["ap_id"]
    republished = client.get(attachment["url"].removeprefix(TEST_BASE_URL)).content
    assert republished != signed and b"a quiet harbour" not in republished
    report = read_c2pa(republished, attachment["mediaType"], trust_anchor_pem=root)
    assert report is not None and report.state == "Trusted"
    # And after a restart the instance keeps signing with the same key
    restarted = client_with(REVERIE_C2PA="true", REVERIE_DATA_DIR=str(data_dir))
    again = generate(sign_in(restarted, ana.account), seed=10)["media"][0]
    report = read_c2pa(
        restarted.get(again["url"].removeprefix(TEST_BASE_URL)).content, again["mime"], trust_anchor_pem=root
    )
    assert report is not None and report.state == "Trusted"
    assert instance_root_certificate(data_dir) == root
