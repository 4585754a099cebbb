"""Identity-based storage for real: Azurite's bearer token checks, MSAL's managed identity client
against the simulator's endpoint, the health report's mode, and the local host's queue trigger."""
from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.storage.queue import QueueServiceClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from ciconnector.customer_insights import CustomerInsightsClient
from ciconnector.health import HealthCheck
from ciconnector.identity import ManagedIdentityCredential, ManagedIdentityTokenError, scope_to_resource
from ciconnector.settings import Settings
from ciconnector.storage import clients
from ciconnector.storage.connection import resolve
from ciconnector.storage.tables import TableStore
from tests.apps.sample_support import SAMPLE_APP, SAMPLE_ROOT, drain, sample_env, wait_for
from tests.fixtures.funchost import FuncHostFactory, FuncHostProcess

STORAGE_SCOPE = "https://storage.azure.com/.default"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class StaticToken:
    """A credential handing out one hand-made JWT: what a forged or stale token looks like to Azurite."""

    def __init__(self, **claims: Any) -> None:
        now = int(time.time())
        self.claims = {"aud": "https://storage.azure.com", "iss": "https://sts.windows.net/t/",
                       "iat": now, "nbf": now, "exp": now + 600, **claims}

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token = f"{_b64({'typ': 'JWT', 'alg': 'none'})}.{_b64(self.claims)}.x"
        return AccessToken(token, int(time.time()) + 600)


@pytest.mark.parametrize("claims, refused", [
    ({}, None),
    ({"aud": "https://vault.azure.net"}, "audience"),
    ({"aud": "https://otheraccount.queue.core.windows.net"}, "audience"),
    ({"exp": int(time.time()) - 60}, "expired"),
    ({"iss": "https://evil.example/"}, "issuer"),
])
def test_azurite_checks_audience_expiry_and_issuer_of_bearer_tokens(azurite_oauth, ci_simulator, claims, refused):
    service = QueueServiceClient(account_url=azurite_oauth.service_uri("queue"), credential=StaticToken(**claims),
                                 connection_verify=ci_simulator.ca_path)
    if refused is None:  # the control: a well-formed token is accepted, so the refusals below are the checks
        service.get_service_properties()
        return
    with pytest.raises(ClientAuthenticationError) as err:
        service.get_service_properties()
    assert err.value.status_code == 403 and "AuthenticationFailed" in str(err.value)


def test_scopes_map_to_msal_resources():
    assert scope_to_resource(STORAGE_SCOPE) == "https://storage.azure.com"
    assert scope_to_resource("api://app-id/.default") == "api://app-id"
    with pytest.raises(ManagedIdentityTokenError, match="one scope"):
        ManagedIdentityCredential().get_token("a/.default", "b/.default")


def test_the_identity_endpoint_refuses_a_wrong_identity_header(managed_identity, ci_simulator, monkeypatch):
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
    with pytest.raises(ManagedIdentityTokenError) as err:
        ManagedIdentityCredential(ca_bundle=ci_simulator.ca_path).get_token(STORAGE_SCOPE)
    assert "401" in str(err.value) and ci_simulator.identity_header not in str(err.value)
    assert isinstance(err.value, ClientAuthenticationError)  # storage callers already handle it


def test_user_assigned_identity_by_client_id(managed_identity, ci_simulator):
    known = resolve(environ={**managed_identity, "AzureWebJobsStorage__clientId": ci_simulator.user_assigned_client_id})
    assert known.identity == "userAssigned"
    TableStore(known).table("UserAssigned").upsert_entity({"PartitionKey": "p", "RowKey": "r"})
    unknown = resolve(environ={**managed_identity, "AzureWebJobsStorage__clientId": str(uuid.uuid4())})
    with pytest.raises(ManagedIdentityTokenError, match="No User Assigned"):
        list(clients.table_service(unknown).list_tables())


def test_identity_tokens_for_the_ci_scope_pass_the_ci_api_and_storage_tokens_do_not(managed_identity, ci_sim):
    credential = ManagedIdentityCredential(ca_bundle=ci_sim.ca_path)
    key = {"Ocp-Apim-Subscription-Key": ci_sim.subscription_key}
    for scope, status in ((ci_sim.scopes[0], 200), (STORAGE_SCOPE, 401)):
        token = credential.get_token(scope).token
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        assert claims["aud"] == scope_to_resource(scope) and claims["iss"].startswith("https://sts.windows.net/")
        response = requests.get(f"{ci_sim.base_url}/instances", headers={"Authorization": f"Bearer {token}", **key},
                                verify=ci_sim.ca_path, timeout=10)
        assert response.status_code == status


@pytest.mark.parametrize("mode", ["connectionString", "identity"])
def test_health_says_which_storage_mode_is_in_use_and_no_secret(request, azurite, ci_sim, mode):
    env = request.getfixturevalue("managed_identity") if mode == "identity" else \
        {"AzureWebJobsStorage": azurite.connection_string}
    settings = Settings.from_environ({**env, **ci_sim.settings_env()})
    report = HealthCheck(settings, CustomerInsightsClient(settings.ci)).report().to_dict()
    storage = report["checks"]["storage"]
    assert storage["mode"] == mode and storage["ok"], storage
    text = json.dumps(report)
    assert "AccountKey" not in text and ci_sim.identity_header not in text
    if mode == "identity":
        assert storage["identity"] == "systemAssigned" and storage["queueEndpoint"].startswith("https://")


@pytest.fixture(scope="module")
def identity_host(funchost_factory: FuncHostFactory, identity_env: dict[str, str],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FuncHostProcess, dict[str, str], Path]]:
    """The sample app on the local host with an identity-based AzureWebJobsStorage only."""
    state = tmp_path_factory.mktemp("identity-queue-state")
    env = {**sample_env("", state), **identity_env}
    host = funchost_factory.start(root=SAMPLE_ROOT, app=SAMPLE_APP, env=env)
    yield host, env, state
    host.stop()


def test_the_local_hosts_queue_trigger_fires_in_identity_mode(identity_host, managed_identity):
    host, env, _ = identity_host
    connection = resolve(environ=env)
    assert connection.mode == "identity"
    codec = {"message_encode_policy": TextBase64EncodePolicy(), "message_decode_policy": TextBase64DecodePolicy()}
    inbox = clients.queue_client(connection, env["SAMPLE_IN_QUEUE"], **codec)
    outbox = clients.queue_client(connection, env["SAMPLE_OUT_QUEUE"], **codec)
    job = uuid.uuid4().hex
    inbox.send_message(json.dumps({"id": job}))
    [output] = wait_for(lambda: [json.loads(t) for t in drain(outbox)], timeout=15)
    assert output["id"] == job and output["dequeue_count"] == 1
