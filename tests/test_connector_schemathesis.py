"""Schemathesis against the running local host, from our own connector definition.

Fixed seed, bounded examples: every operation (actions and triggers) is called with generated
valid and invalid inputs; no answer may be a 5xx, and every answer must match its declared
status codes, content type, headers and schema. The instance is pinned to the simulator's sample
instance so the calls reach real CI data; the trigger callback URL is pinned to a loopback URL,
which subscribe refuses without any DNS lookup (so nothing is stored and nothing leaves the machine).
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from ciconnector.connector import definition_for_url
from dev.cisim import SAMPLE_INSTANCE_ID

SEED = 20241125
MAX_EXAMPLES = 12
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance")


@pytest.fixture(scope="module")
def fuzz_host(funchost_factory, azurite, ci_simulator):
    """The app on the local host against the simulator (reset once: fuzzing may add rows and jobs)."""
    ci_simulator.control.reset()
    started = funchost_factory.start(env={"AzureWebJobsStorage": azurite.connection_string,
                                          "POLL_SCHEDULE": "0 0 0 1 1 *", **ci_simulator.settings_env()})
    yield started
    started.stop()
    ci_simulator.control.reset()


@pytest.fixture(scope="module")
def connector_schema(fuzz_host):
    """Our definition as served by the host, configured for a bounded, reproducible run."""
    definition = definition_for_url(fuzz_host.url("/api/connector/apiDefinition.swagger.json"))
    config = SchemathesisConfig.from_dict({
        "seed": SEED,
        "base-url": fuzz_host.base_url + definition["basePath"],
        "headers": {"x-functions-key": fuzz_host.function_key},
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "parameters": {"path.instanceId": SAMPLE_INSTANCE_ID, "body.callbackUrl": "https://127.0.0.1:9/callback"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "request-timeout": 30,
    })
    return schemathesis.openapi.from_dict(definition, config=config)


schema = schemathesis.pytest.from_fixture("connector_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_connector_operations_conform(case):
    case.call_and_validate()
