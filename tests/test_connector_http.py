"""GET /api/connector/apiDefinition.swagger.json: anonymous, with the caller's host filled in."""
from __future__ import annotations

from openapi_spec_validator import validate

from ciconnector.connector import build_definition
from ciconnector.trigger_kinds import CATALOG, UNSUBSCRIBE
from ciconnector.trigger_kinds.callback import CALLBACK_URL_FIELD as CALLBACK_FIELD
from dev.cisim import SAMPLE_INSTANCE_ID
from dev.connector_rules import check


def test_definition_is_served_anonymously_with_the_request_host(app_host):
    response = app_host.request("GET", "/api/connector/apiDefinition.swagger.json", key=None)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    served = response.json()
    host = app_host.base_url.removeprefix("http://")
    assert served == build_definition(host, scheme="http")
    validate(served)
    assert check(served) == []


def test_actions_still_need_the_key(app_host):
    assert app_host.request("GET", "/api/instances", key=None).status_code == 401


def test_trigger_operations_match_the_trigger_functions(app_host, ci_sim, receiver):
    """Subscribe exactly as the definition describes it, then DELETE the returned Location."""
    definition = build_definition(app_host.base_url.removeprefix("http://"), scheme="http")
    path = CATALOG["segmentThresholdCrossed"].subscribe.path.replace("{instanceId}", SAMPLE_INSTANCE_ID)
    assert "post" in definition["paths"][CATALOG["segmentThresholdCrossed"].subscribe.path]
    segment = ci_sim.control.add_segment("ContractCheck", 10)["name"]
    response = app_host.request("POST", definition["basePath"] + path, json={
        CALLBACK_FIELD: receiver.callback_url("contract"), "segmentName": segment, "threshold": 20})
    assert response.status_code == 201, response.text
    location = response.headers["Location"]
    unsubscribe = UNSUBSCRIBE.path.replace("{instanceId}", SAMPLE_INSTANCE_ID).replace(
        "{subscriptionId}", location.rsplit("/", 1)[1])
    assert location == app_host.base_url + definition["basePath"] + unsubscribe
    assert app_host.request("DELETE", location.removeprefix(app_host.base_url)).status_code in (200, 204)
