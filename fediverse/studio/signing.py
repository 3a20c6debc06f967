"""The instance's C2PA signing credentials: created once, kept in the data folder, read on later starts.

One PEM file holds the private key and the certificate chain, so it appears atomically (``os.link`` of a
finished temporary file): two processes starting together end up with the same credentials.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fediverse.generation import c2pa_signing
from storage.private_files import make_private_folders

if importlib.util.find_spec("c2pa") is None:  # the optional [c2pa] extra is not installed
    c2pa_signing = None  # type: ignore[assignment]

__all__ = ["c2pa_available", "c2pa_signing", "load_or_create_credentials"]

SIGNER_FILE = "c2pa-signer.pem"


def c2pa_available() -> bool:
    return c2pa_signing is not None


def load_or_create_credentials(folder: Path, instance_name: str) -> c2pa_signing.SigningCredentials:
    """The credentials in ``folder``, created there first when missing. Blocking: run it in a thread."""
    assert c2pa_signing is not None, "check c2pa_available() first"
    path = folder / SIGNER_FILE
    if not path.is_file():
        fresh = c2pa_signing.create_signing_credentials(instance_name)
        _write_once(path, fresh.key_pem + fresh.chain_pem)
    return _read(path.read_bytes())


def _write_once(path: Path, content: bytes) -> None:
    make_private_folders(path.parent)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".signer-")
    try:
        with os.fdopen(descriptor, "wb") as handle:  # mkstemp creates the file 0600
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process got there first: use its credentials
            os.link(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _read(content: bytes) -> c2pa_signing.SigningCredentials:
    assert c2pa_signing is not None
    marker = b"-----BEGIN CERTIFICATE-----"
    split = content.index(marker)
    key_pem, chain_pem = content[:split], content[split:]
    serialization.load_pem_private_key(key_pem, password=None)  # fail here, not at the first signature
    x509.load_pem_x509_certificates(chain_pem)
    return c2pa_signing.SigningCredentials.from_pem(chain_pem, key_pem)
