"""CI simulator: Entra ID-compatible authority (real MSAL) and API credential checks."""
from __future__ import annotations

import base64
import time
import uuid
from datetime import datetime, timedelta, timezone

import jwt
import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from dev.cisim import SAMPLE_INSTANCE_ID, ApiClient, CISimulator
from dev.cisim.assertion import make_self_signed

SCOPE = "https://api.ci.ai.microsoft.com/.default"


def _session(sim: CISimulator) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
    session.verify = sim.ca_path
    return session


def _msal(sim: CISimulator, session: requests.Session) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(sim.client_id, client_credential=sim.client_secret,
                                              authority=sim.authority, instance_discovery=False,
                                              http_client=session)


def _token(sim: CISimulator, **form: str) -> requests.Response:
    data = {"grant_type": "client_credentials", "client_id": sim.client_id, "client_secret": sim.client_secret,
            "scope": SCOPE, **form}
    return _session(sim).post(f"{sim.authority}/oauth2/v2.0/token", data=data, timeout=10)


def test_msal_acquires_then_serves_from_cache(ci_sim: CISimulator) -> None:
    session = _session(ci_sim)
    app = _msal(ci_sim, session)
    first = app.acquire_token_for_client(scopes=[SCOPE])
    second = app.acquire_token_for_client(scopes=[SCOPE])
    assert first["token_source"] == "identity_provider" and first["token_type"] == "Bearer"
    assert second["token_source"] == "cache" and second["access_token"] == first["access_token"]
    response = session.get(f"{ci_sim.base_url}/instances", timeout=10, headers={
        "Authorization": f"Bearer {first['access_token']}", "Ocp-Apim-Subscription-Key": ci_sim.subscription_key})
    assert response.status_code == 200
    assert ci_sim.control.request_log()["token_requests"] == 1


def test_msal_renews_after_expiry(ci_sim: CISimulator) -> None:
    # MSAL treats a token with < 300 s left as expired, so 302 s gives a 2 s cache window.
    ci_sim.control.set_token_lifetime(302)
    app = _msal(ci_sim, _session(ci_sim))
    first = app.acquire_token_for_client(scopes=[SCOPE])
    assert first["token_source"] == "identity_provider" and first["expires_in"] == 302
    assert app.acquire_token_for_client(scopes=[SCOPE])["token_source"] == "cache"
    time.sleep(2.2)
    renewed = app.acquire_token_for_client(scopes=[SCOPE])
    assert renewed["token_source"] == "identity_provider"
    assert renewed["access_token"] != first["access_token"]
    assert ci_sim.control.request_log()["token_requests"] == 2


def test_openid_configuration_is_entra_like(ci_sim: CISimulator) -> None:
    config = _session(ci_sim).get(f"{ci_sim.authority}/v2.0/.well-known/openid-configuration", timeout=10).json()
    assert config["token_endpoint"] == f"{ci_sim.authority}/oauth2/v2.0/token"
    assert config["issuer"] == f"{ci_sim.authority}/v2.0"
    assert {"authorization_endpoint", "jwks_uri"} <= set(config)
    keys = _session(ci_sim).get(config["jwks_uri"], timeout=10).json()["keys"]
    assert len(keys) == 2 and all(k["kty"] == "RSA" and k["use"] == "sig" and k["n"] and k["e"] for k in keys)
    assert len({k["kid"] for k in keys}) == 2, "the current and the previous signing key"


@pytest.mark.parametrize("form, status, error, code", [
    ({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
    ({"client_id": "00000000-0000-0000-0000-000000000000"}, 401, "invalid_client", 700016),
    ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
    ({"scope": "https://api.ci.ai.microsoft.com/user_impersonation"}, 400, "invalid_scope", 1002012),
    ({"scope": "https://api.ci.ai.dynamics.com/.default"}, 400, "invalid_resource", 500011),
])
def test_token_endpoint_errors(ci_sim: CISimulator, form: dict[str, str], status: int, error: str,
                               code: int) -> None:
    response = _token(ci_sim, **form)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}:")


def test_unknown_tenant_is_rejected(ci_sim: CISimulator) -> None:
    response = _session(ci_sim).post(f"{ci_sim.origin}/contoso.onmicrosoft.com/oauth2/v2.0/token", timeout=10,
                                     data={"grant_type": "client_credentials"})
    assert response.status_code == 400 and response.json()["error_codes"] == [90002]


def test_token_response_shape(ci_sim: CISimulator) -> None:
    body = _token(ci_sim).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["access_token"].count(".") == 2


@pytest.mark.parametrize("headers", [
    {},
    {"Ocp-Apim-Subscription-Key": "{key}"},
    {"Authorization": "Bearer {token}"},
    {"Authorization": "Bearer {token}", "Ocp-Apim-Subscription-Key": "wrong-key"},
    {"Authorization": "Bearer not-a-token", "Ocp-Apim-Subscription-Key": "{key}"},
    {"Authorization": "Basic {token}", "Ocp-Apim-Subscription-Key": "{key}"},
], ids=["nothing", "key-only", "token-only", "wrong-key", "unknown-token", "wrong-scheme"])
def test_api_needs_token_and_key(ci_sim: CISimulator, ci_api: ApiClient, headers: dict[str, str]) -> None:
    token = ci_api.fetch_token()
    filled = {k: v.format(key=ci_sim.subscription_key, token=token) for k, v in headers.items()}
    response = _session(ci_sim).get(f"{ci_sim.base_url}/instances/{SAMPLE_INSTANCE_ID}/manage/segments",
                                     headers=filled, timeout=10)
    assert response.status_code == 401
    assert response.content == b""
    assert response.headers["WWW-Authenticate"].startswith(f'Bearer authorization_uri="{ci_sim.authority}"')


def test_expired_tokens_are_rejected(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    assert ci_api.get("/instances").status_code == 200
    assert ci_sim.control.expire_tokens() >= 1
    response = ci_api.get("/instances")
    assert response.status_code == 401 and "expired" in response.headers["WWW-Authenticate"]
    ci_api.fetch_token()
    assert ci_api.get("/instances").status_code == 200


def test_short_lifetime_expires_server_side(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    ci_sim.control.set_token_lifetime(1)
    ci_api.fetch_token()
    assert ci_api.get("/instances").status_code == 200
    time.sleep(1.1)
    assert ci_api.get("/instances").status_code == 401


# --- client assertions (certificate credentials) --------------------------------------------------
def _assertion(sim: CISimulator, key_pem: bytes, cert_pem: bytes, *, alg: str = "PS256", header: str = "x5t#S256",
               **claims: object) -> str:
    """A client assertion signed with ``key_pem`` naming ``cert_pem``'s thumbprint; claims override."""
    certificate = x509.load_pem_x509_certificate(cert_pem)
    digest = certificate.fingerprint(hashes.SHA256() if header == "x5t#S256" else hashes.SHA1())
    now = int(time.time())
    body = {"aud": f"{sim.authority}/oauth2/v2.0/token", "iss": sim.client_id, "sub": sim.client_id,
            "exp": now + 600, "nbf": now, "iat": now, "jti": str(uuid.uuid4()), **claims}
    headers = {header: base64.urlsafe_b64encode(digest).decode()} if header else {}
    return jwt.encode(body, serialization.load_pem_private_key(key_pem, None), algorithm=alg, headers=headers)


def _assertion_token(sim: CISimulator, assertion: str, **form: str) -> requests.Response:
    data = {"grant_type": "client_credentials", "client_id": sim.client_id, "scope": SCOPE,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion, **form}
    return _session(sim).post(f"{sim.authority}/oauth2/v2.0/token", data=data, timeout=10)


@pytest.fixture(scope="module")
def app_certificate(ci_simulator: CISimulator):
    """A certificate registered on the simulated app for this module: (key PEM, certificate PEM)."""
    key_pem, cert_pem = make_self_signed(common_name="auth-tests")
    thumbprint = ci_simulator.services.authority.certificates.register(cert_pem)
    yield key_pem, cert_pem
    ci_simulator.services.authority.certificates.unregister(thumbprint)


@pytest.mark.parametrize("alg, header", [("PS256", "x5t#S256"), ("RS256", "x5t")])
def test_signed_assertion_gets_a_token_the_api_accepts(ci_sim: CISimulator, app_certificate, alg: str,
                                                      header: str) -> None:
    response = _assertion_token(ci_sim, _assertion(ci_sim, *app_certificate, alg=alg, header=header))
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    api = _session(ci_sim).get(f"{ci_sim.base_url}/instances", timeout=10, headers={
        "Authorization": f"Bearer {token}", "Ocp-Apim-Subscription-Key": ci_sim.subscription_key})
    assert api.status_code == 200


def test_msal_with_the_simulators_own_certificate(ci_sim: CISimulator) -> None:
    pem = open(ci_sim.client_certificate_path, "rb").read().decode()
    app = msal.ConfidentialClientApplication(
        ci_sim.client_id, authority=ci_sim.authority, instance_discovery=False, http_client=_session(ci_sim),
        client_credential={"private_key": pem, "public_certificate": pem})
    assert app.acquire_token_for_client(scopes=[SCOPE])["token_type"] == "Bearer"


@pytest.mark.parametrize("change, code, reason", [
    ({"claims": {"exp": int(time.time()) - 900}}, 700024, "not within its valid time range"),
    ({"claims": {"nbf": int(time.time()) + 900}}, 700024, "not within its valid time range"),
    ({"claims": {"aud": "https://login.microsoftonline.com/common/oauth2/v2.0/token"}}, 700023, "audience"),
    ({"claims": {"iss": "someone-else"}}, 700021, "doesn't match 'client_id'"),
    ({"claims": {"sub": "someone-else"}}, 700021, "doesn't match 'client_id'"),
    ({"header": ""}, 700027, "neither an 'x5t' nor an 'x5t#S256'"),
    ({"other_cert": True}, 700027, "The key was not found"),
    ({"other_key": True}, 700027, "did not match the expected signature"),
    ({"alg": "HS256"}, 5002738, "not a supported signature algorithm"),
])
def test_bad_assertions_are_refused(ci_sim: CISimulator, app_certificate, change: dict, code: int,
                                    reason: str) -> None:
    key_pem, cert_pem = app_certificate
    if change.get("other_cert"):
        key_pem, cert_pem = make_self_signed(common_name="not-registered")
    if change.get("other_key"):
        key_pem, _ = make_self_signed()
    if change.get("alg") == "HS256":
        body = {"aud": f"{ci_sim.authority}/oauth2/v2.0/token", "iss": ci_sim.client_id, "sub": ci_sim.client_id,
                "exp": int(time.time()) + 600}
        assertion = jwt.encode(body, "a-shared-secret-of-32-bytes-or-more!", algorithm="HS256",
                               headers={"x5t": "AAAA"})
    else:
        assertion = _assertion(ci_sim, key_pem, cert_pem, header=change.get("header", "x5t#S256"),
                               **change.get("claims", {}))
    response = _assertion_token(ci_sim, assertion)
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client" and body["error_codes"] == [code]
    assert reason in body["error_description"]


def test_expired_registered_certificate_is_refused(ci_sim: CISimulator) -> None:
    key_pem, cert_pem = make_self_signed(days=1, not_before=datetime.now(timezone.utc) - timedelta(days=2))
    thumbprint = ci_sim.services.authority.certificates.register(cert_pem)
    try:
        body = _assertion_token(ci_sim, _assertion(ci_sim, key_pem, cert_pem)).json()
    finally:
        ci_sim.services.authority.certificates.unregister(thumbprint)
    assert body["error_codes"] == [700027] and "The key used is expired" in body["error_description"]


def test_secret_and_assertion_together_or_neither_are_refused(ci_sim: CISimulator, app_certificate) -> None:
    both = _assertion_token(ci_sim, _assertion(ci_sim, *app_certificate), client_secret=ci_sim.client_secret)
    assert both.status_code == 401 and both.json()["error_codes"] == [700025]
    neither = _session(ci_sim).post(f"{ci_sim.authority}/oauth2/v2.0/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": ci_sim.client_id, "scope": SCOPE})
    assert neither.status_code == 401 and neither.json()["error_codes"] == [7000216]
