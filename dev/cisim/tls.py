"""TLS material: a local CA (trustme), reused from the state directory, and a server certificate."""
from __future__ import annotations

import os
import ssl
from pathlib import Path

import trustme

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"


def load_or_create_ca(directory: Path) -> trustme.CA:
    """The CA stored in ``directory`` (ca.pem + ca-key.pem), created on first use."""
    cert_path, key_path = directory / CA_FILE, directory / CA_KEY_FILE
    if cert_path.exists() and key_path.exists():
        return trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
    ca = trustme.CA(organization_name="CI simulator (dev only)")
    key_path.write_bytes(ca.private_key_pem.bytes())
    os.chmod(key_path, 0o600)
    cert_path.write_bytes(ca.cert_pem.bytes())
    return ca


def write_server_cert(ca: trustme.CA, directory: Path) -> tuple[str, str]:
    """Write a 127.0.0.1/localhost certificate and its key under ``directory``; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = directory / "server-cert.pem", directory / "server-key.pem"
    cert.private_key_pem.write_to_path(str(key_path))
    os.chmod(key_path, 0o600)
    cert_path.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    return str(cert_path), str(key_path)


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server context with a fresh certificate for 127.0.0.1 and localhost."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context
