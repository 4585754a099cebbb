"""Schemathesis against the running local host, from our own connector definition.

Fixed seed, bounded examples (``FUZZ_BUDGET`` per operation, see tests/fuzzstats.py): every operation (actions
and triggers) is called with generated valid and invalid inputs; no answer may be a 5xx, and every answer must
match its declared status codes, content type, headers and schema. The instance is pinned to the simulator's
sample instance so the calls reach real CI data; the trigger callback URL is pinned to a loopback URL, which
subscribe refuses without any DNS lookup (so nothing is stored and nothing leaves the machine).
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.overrides import for_operation

from ciconnector.connector import build_definition, definition_for_url
from dev.cisim import SAMPLE_INSTANCE_ID
from tests.fuzzstats import BUDGET, SEED, record

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance", "ignored_auth")


@pytest.fixture(scope="module")
def fuzz_host(app_host, ci_simulator):
    """The app on the local host against the simulator, reset before and after (fuzzing adds rows and jobs)."""
    ci_simulator.control.reset()
    yield app_host
    ci_simulator.control.reset()


@pytest.fixture(scope="module")
def connector_schema(fuzz_host):
    """Our definition as served by the host, configured for a bounded, reproducible run."""
    definition = definition_for_url(fuzz_host.url("/api/connector/apiDefinition.swagger.json"))
    config = SchemathesisConfig.from_dict({
        "seed": SEED,
        "base-url": fuzz_host.base_url + definition["basePath"],
        "headers": {"x-functions-key": fuzz_host.function_key},
        "parameters": {"path.instanceId": SAMPLE_INSTANCE_ID, "body.callbackUrl": "https://127.0.0.1:9/callback"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "request-timeout": 30,
    })
    return schemathesis.openapi.from_dict(definition, config=config)


OPERATIONS = [(path, method) for path, item in build_definition()["paths"].items()
              for method in item if method in ("get", "post", "patch", "delete")]


@pytest.mark.parametrize("path, method", OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_operation_conforms(connector_schema, path, method):
    operation = connector_schema[path][method]
    pinned = for_operation(connector_schema.config, operation=operation).as_strategy_kwargs()
    cases = st.one_of(*(operation.as_strategy(mode, **pinned) for mode in GenerationMode))

    @given(case=cases)
    @settings(max_examples=BUDGET, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case):
        response = case.call()
        record(f"{method.upper()} {path}", response.status_code)
        case.validate_response(response)

    run()
