"""CI credentials without a secret: a client certificate and the managed identity, end to end.

Real MSAL signs the client assertion (certificate) or calls the App Service identity endpoint
(managed identity); the simulator checks them as Entra ID would and the CI call must then work.
"""
from __future__ import annotations

import dataclasses
import time
import types
from datetime import datetime, timedelta, timezone

import msal.oauth2cli.assertion as msal_assertion
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from ciconnector.customer_insights import AuthenticationError, CustomerInsightsClient
from ciconnector.customer_insights.certificate import load_client_certificate
from ciconnector.identity import managed_identity_credential
from ciconnector.settings import Settings
from dev.cisim import SAMPLE_INSTANCE_ID
from dev.cisim.assertion import make_self_signed


def client(env: dict[str, str], **overrides) -> CustomerInsightsClient:
    return CustomerInsightsClient(dataclasses.replace(Settings.from_environ(env).ci, **overrides))


def write_pem(tmp_path, name: str, key_pem: bytes, cert_pem: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(key_pem + cert_pem)
    return str(path)


@pytest.fixture
def registered(ci_sim, tmp_path):
    """A second certificate registered for the test only: (key PEM, certificate PEM)."""
    key_pem, cert_pem = make_self_signed(common_name="test-registered")
    thumbprint = ci_sim.services.authority.certificates.register(cert_pem)
    yield key_pem, cert_pem
    ci_sim.services.authority.certificates.unregister(thumbprint)


# --- certificate --------------------------------------------------------------------------------
def test_certificate_gets_a_token_and_the_call_works(ci_sim):
    env = ci_sim.settings_env(credential="certificate")
    assert "CI_CLIENT_SECRET" not in env
    ci = client(env)
    assert [i.instance_id for i in ci.list_instances()] == [SAMPLE_INSTANCE_ID]
    job = ci.submit_job(SAMPLE_INSTANCE_ID, operation_type="all", force_run=True)
    assert job.job_id
    assert ci_sim.control.request_log()["token_requests"] == 1


def test_pfx_with_password_works(ci_sim, registered, tmp_path):
    key_pem, cert_pem = registered
    key = serialization.load_pem_private_key(key_pem, None)
    pfx = pkcs12.serialize_key_and_certificates(b"app", key, x509.load_pem_x509_certificate(cert_pem), None,
                                                serialization.BestAvailableEncryption(b"s3cret"))
    path = tmp_path / "app.pfx"
    path.write_bytes(pfx)
    env = {**ci_sim.settings_env(credential="certificate"), "CI_CLIENT_CERTIFICATE_PATH": str(path),
           "CI_CLIENT_CERTIFICATE_PASSWORD": "s3cret"}
    assert client(env).list_instances()


def test_encrypted_pem_key_works(ci_sim, registered, tmp_path):
    key_pem, cert_pem = registered
    key = serialization.load_pem_private_key(key_pem, None)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"pw"))
    env = {**ci_sim.settings_env(credential="certificate"),
           "CI_CLIENT_CERTIFICATE_PATH": write_pem(tmp_path, "enc.pem", encrypted, cert_pem),
           "CI_CLIENT_CERTIFICATE_PASSWORD": "pw"}
    assert client(env).list_instances()


def test_unregistered_certificate_is_refused_naming_the_thumbprint(ci_sim, tmp_path):
    key_pem, cert_pem = make_self_signed(common_name="stranger")
    path = write_pem(tmp_path, "stranger.pem", key_pem, cert_pem)
    env = {**ci_sim.settings_env(credential="certificate"), "CI_CLIENT_CERTIFICATE_PATH": path}
    with pytest.raises(AuthenticationError) as err:
        client(env).list_instances()
    thumbprint = load_client_certificate(path).sha256_thumbprint
    assert err.value.error_code == "invalid_client"
    assert "AADSTS700027" in err.value.message and "The key was not found" in err.value.message
    assert thumbprint in err.value.message
    assert ci_sim.control.request_log()["total"] == 0


def test_key_of_another_certificate_is_refused(ci_sim, registered, tmp_path):
    """The file pairs a registered certificate with a key that is not its own."""
    _, cert_pem = registered
    other_key, _ = make_self_signed()
    path = write_pem(tmp_path, "mismatch.pem", other_key, cert_pem)
    env = {**ci_sim.settings_env(credential="certificate"), "CI_CLIENT_CERTIFICATE_PATH": path}
    with pytest.raises(AuthenticationError, match="no certificate in the file matches its private key"):
        client(env).list_instances()


def test_expired_assertion_is_refused(ci_sim, monkeypatch):
    """An app whose clock is an hour behind signs assertions that expired long ago."""
    behind = types.SimpleNamespace(time=lambda: time.time() - 3600)
    monkeypatch.setattr(msal_assertion, "time", behind)
    with pytest.raises(AuthenticationError) as err:
        client(ci_sim.settings_env(credential="certificate")).list_instances()
    assert "AADSTS700024" in err.value.message and "not within its valid time range" in err.value.message


def test_expired_certificate_is_named_before_any_request(ci_sim, tmp_path):
    key_pem, cert_pem = make_self_signed(days=1, not_before=datetime.now(timezone.utc) - timedelta(days=3))
    env = {**ci_sim.settings_env(credential="certificate"),
           "CI_CLIENT_CERTIFICATE_PATH": write_pem(tmp_path, "old.pem", key_pem, cert_pem)}
    with pytest.raises(AuthenticationError, match="expired on") as err:
        client(env).list_instances()
    assert err.value.error_code == "certificate_expired"
    assert ci_sim.control.request_log()["token_requests"] == 0


@pytest.mark.parametrize("content, password, problem", [
    (None, "", "cannot be read"),
    (b"not a certificate", "", "not a PEM file, and not a PFX"),
    ("cert-only", "", "holds no private key"),
    ("encrypted", "", "set CI_CLIENT_CERTIFICATE_PASSWORD"),
    ("encrypted", "wrong", "cannot be decrypted"),
])
def test_unusable_certificate_files_are_named(ci_sim, tmp_path, content, password, problem):
    key_pem, cert_pem = make_self_signed()
    key = serialization.load_pem_private_key(key_pem, None)
    data = {"cert-only": cert_pem,
            "encrypted": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(b"right")) + cert_pem
            }.get(content, content)
    path = tmp_path / "c.pem"
    if data is not None:
        path.write_bytes(data)
    env = {**ci_sim.settings_env(credential="certificate"), "CI_CLIENT_CERTIFICATE_PATH": str(path)}
    if password:
        env["CI_CLIENT_CERTIFICATE_PASSWORD"] = password
    with pytest.raises(AuthenticationError, match=problem) as err:
        client(env).list_instances()
    assert "BEGIN" not in err.value.message and "right" not in err.value.message


def test_thumbprints_are_computed_from_the_certificate(ci_sim):
    loaded = load_client_certificate(ci_sim.client_certificate_path)
    assert loaded.sha1_thumbprint == ci_sim.client_certificate_thumbprint
    assert len(loaded.sha256_thumbprint) == 64 and "PRIVATE" not in repr(loaded)


# --- managed identity ---------------------------------------------------------------------------
@pytest.fixture
def mi_env(ci_sim, monkeypatch):
    """Settings for the managed identity mode; MSAL reads IDENTITY_* from the process environment.

    The app shares one MSAL managed identity client per identity (``ciconnector.identity``); it is
    dropped around each test so token counts start from an empty cache.
    """
    env = ci_sim.settings_env(credential="managedidentity")
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
        monkeypatch.setenv(name, env[name])
    managed_identity_credential.cache_clear()
    yield env
    managed_identity_credential.cache_clear()


def test_system_assigned_identity_calls_ci(ci_sim, mi_env):
    assert "CI_CLIENT_SECRET" not in mi_env and "CI_CLIENT_ID" not in mi_env
    ci = client(mi_env)
    assert [i.instance_id for i in ci.list_instances()] == [SAMPLE_INSTANCE_ID]
    assert ci.list_data_sources(SAMPLE_INSTANCE_ID)
    calls = ci_sim.control.request_log()["calls"]
    assert calls["GET /msi/token"] == 1 and ci_sim.control.request_log()["token_requests"] == 0


def test_user_assigned_identity_calls_ci(ci_sim, mi_env):
    env = {**mi_env, "CI_MANAGED_IDENTITY_CLIENT_ID": ci_sim.user_assigned_client_id}
    assert client(env).list_instances()


def test_unknown_user_assigned_identity_is_an_authentication_error(ci_sim, mi_env):
    env = {**mi_env, "CI_MANAGED_IDENTITY_CLIENT_ID": "00000000-0000-4000-8000-000000000001"}
    with pytest.raises(AuthenticationError, match="managed identity token refused") as err:
        client(env).list_instances()
    assert err.value.error_code == "managed_identity_unavailable"
    assert ci_sim.control.request_log()["total"] == 0


def test_managed_identity_token_revoked_server_side_is_replaced_once(ci_sim, mi_env):
    ci = client(mi_env)
    ci.list_instances()
    assert ci_sim.control.expire_tokens() >= 1
    assert ci.list_instances()
    assert ci_sim.control.request_log()["calls"]["GET /msi/token"] == 2


def test_wrong_identity_header_is_an_authentication_error(ci_sim, mi_env, monkeypatch):
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
    with pytest.raises(AuthenticationError, match="managed identity token refused"):
        client(mi_env).list_instances()
