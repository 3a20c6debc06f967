from __future__ import annotations

import io

import pytest
from cryptography import x509
from PIL import Image

pytest.importorskip("c2pa")

from fediverse.generation.base import ALGORITHMIC_MEDIA, GenerationRequest
from fediverse.generation.c2pa_signing import (
    C2paClaim,
    SigningCredentials,
    create_signing_credentials,
    read_c2pa,
    sign_c2pa,
)
from fediverse.generation.procedural import ProceduralGenerator
from fediverse.generation.provenance import embed_provenance, provenance_from_image, read_parameters_text


@pytest.fixture(scope="module")
def credentials() -> SigningCredentials:
    return create_signing_credentials("test.example")


def signed(credentials: SigningCredentials, output_format: str) -> tuple[bytes, str]:
    painter = ProceduralGenerator(output_format=output_format)  # type: ignore[arg-type]
    image = painter.generate_sync(GenerationRequest(prompt="a quiet harbour", seed=9, width=128, height=128))[0]
    info = provenance_from_image(image, prompt="a quiet harbour")
    data = embed_provenance(image.data, image.mime, info, width=128, height=128)
    claim = C2paClaim("a quiet harbour", image.digital_source_type, "Reverie", "0.1.0", info.model)
    return sign_c2pa(data, image.mime, claim, credentials), image.mime


def test_credentials_are_a_ca_and_an_es256_end_entity(credentials: SigningCredentials) -> None:
    leaf, ca = x509.load_pem_x509_certificates(credentials.chain_pem)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.issuer == ca.subject
    assert leaf.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert SigningCredentials.from_pem(credentials.chain_pem, credentials.key_pem) == credentials


@pytest.mark.parametrize("output_format", ["png", "jpeg"])
def test_signed_images_validate_and_carry_the_source_type(credentials: SigningCredentials, output_format: str) -> None:
    data, mime = signed(credentials, output_format)
    report = read_c2pa(data, mime)
    assert report is not None
    assert report.state == "Valid"
    assert report.digital_source_types == [ALGORITHMIC_MEDIA]
    assert "a quiet harbour" not in str(report.manifest.get("assertions", ""))  # prompt stays out by default
    trusted = read_c2pa(data, mime, trust_anchor_pem=credentials.ca_pem)
    assert trusted is not None and trusted.state == "Trusted"
    with Image.open(io.BytesIO(data)) as image:  # the XMP and A1111 text survive signing
        image.load()
        assert (read_parameters_text(image) or "").startswith("a quiet harbour")


def test_another_instance_is_not_trusted(credentials: SigningCredentials) -> None:
    data, mime = signed(credentials, "png")
    stranger = create_signing_credentials("other.example")
    report = read_c2pa(data, mime, trust_anchor_pem=stranger.ca_pem)
    assert report is not None and report.state == "Valid"


@pytest.mark.parametrize("output_format", ["png", "jpeg"])
def test_tampering_invalidates_the_manifest(credentials: SigningCredentials, output_format: str) -> None:
    data, mime = signed(credentials, output_format)
    tampered = bytearray(data)
    tampered[-100] ^= 0xFF  # inside the image data, far from the manifest
    report = read_c2pa(bytes(tampered), mime)
    assert report is not None and report.state == "Invalid"


def test_re_encoding_strips_the_manifest(credentials: SigningCredentials) -> None:
    data, mime = signed(credentials, "png")
    with Image.open(io.BytesIO(data)) as image:
        output = io.BytesIO()
        image.save(output, "PNG")
    assert read_c2pa(output.getvalue(), mime) is None
