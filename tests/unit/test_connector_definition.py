"""The generated definition passes openapi-spec-validator, Microsoft's schemas and our rule checker,
and says what the declarations and the trigger catalog say."""
import copy
import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft4Validator, Draft7Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from ciconnector.connector import build_api_properties, build_definition, definition_for_url
from ciconnector.connector.security import EntraConnection
from ciconnector.connector.swagger import public_base_url
from ciconnector.data_actions import ACTIONS
from ciconnector.errors import InvalidInput
from ciconnector.trigger_kinds import CATALOG, UNSUBSCRIBE
from ciconnector.trigger_kinds.callback import CALLBACK_URL_FIELD as CALLBACK_FIELD
from dev.connector_rules import check, check_properties
from dev.jsonc import loads

MS_SCHEMAS = Path(__file__).resolve().parents[2] / "dev" / "reference" / "ms-schemas"


@pytest.fixture(scope="module")
def definition():
    return build_definition()


@pytest.fixture(scope="module")
def swagger_schema():
    return Draft4Validator(loads((MS_SCHEMAS / "apiDefinition.swagger.schema.json").read_text(encoding="utf-8")))


def test_openapi_spec_validator_accepts_it(definition):
    validate(definition)


def test_openapi_spec_validator_can_fail(definition):
    broken = copy.deepcopy(definition)
    broken["paths"]["/instances/{instanceId}/entities"]["get"]["parameters"][0]["in"] = "nowhere"
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_microsoft_swagger_schema_accepts_it(definition, swagger_schema):
    assert [e.message for e in swagger_schema.iter_errors(definition)] == []


def test_microsoft_swagger_schema_can_fail(definition, swagger_schema):
    broken = copy.deepcopy(definition)
    path = next(iter(CATALOG.values())).subscribe.path
    broken["paths"][path]["post"]["x-ms-notification-content"] = broken["paths"][path].pop("x-ms-notification-content")
    assert list(swagger_schema.iter_errors(broken))


def test_microsoft_properties_schema_accepts_it():
    schema = loads((MS_SCHEMAS / "paconn-apiProperties.schema.json").read_text(encoding="utf-8"))
    validator = Draft7Validator(schema)
    assert [e.message for e in validator.iter_errors(build_api_properties())] == []
    assert list(validator.iter_errors({"properties": {"iconBrandColor": "#000000", "colour": "x"}}))


def test_rule_checker_accepts_it(definition):
    assert check(definition) == []
    assert check_properties(build_api_properties()) == []


def test_every_action_is_an_operation_as_declared(definition):
    for action in ACTIONS:
        op = definition["paths"][action.path][action.method.lower()]
        assert op["operationId"] == action.operation_id
        assert [p["name"] for p in op["parameters"]] == [p.name for p in action.params]
        assert op["responses"][str(action.status)]["schema"] == action.response
        assert op["x-ms-visibility"] == action.visibility


@pytest.mark.parametrize("kind", CATALOG.values(), ids=lambda k: k.id)
def test_every_trigger_kind_is_a_webhook_trigger(definition, kind):
    item = definition["paths"][kind.subscribe.path]
    op = item["post"]
    assert (op["operationId"], op["x-ms-trigger"], op["x-ms-trigger-hint"]) == \
        (kind.operation_name, "single", kind.hint)
    assert item["x-ms-notification-content"]["schema"] == kind.notification_schema
    assert "x-ms-notification-content" not in op
    body = op["parameters"][1]["schema"]
    callback = body["properties"][CALLBACK_FIELD]
    assert callback["x-ms-notification-url"] is True and callback["x-ms-visibility"] == "internal"
    assert CALLBACK_FIELD in body["required"] and op["parameters"][1]["required"] is True
    for parameter in kind.parameters:
        if parameter.name == "instanceId":
            assert op["parameters"][0]["x-ms-dynamic-values"]["operationId"] == "LookupInstances"
            continue
        prop = body["properties"][parameter.name]
        assert (parameter.name in body["required"]) == parameter.required
        if parameter.resource:
            assert prop["x-ms-dynamic-values"]["operationId"] == parameter.picker.operation_id


def test_measure_picker_lists_only_scalar_measures(definition):
    prop = definition["paths"][CATALOG["measureThresholdCrossed"].subscribe.path]["post"]["parameters"][1]
    picker = prop["schema"]["properties"]["measureName"]
    assert picker["x-ms-dynamic-values"]["parameters"] == {"instanceId": {"parameter": "instanceId"},
                                                           "scalarOnly": True}
    assert picker["x-ms-dynamic-list"]["parameters"]["scalarOnly"] == {"value": True}


def test_unsubscribe_is_internal(definition):
    deletes = [op for item in definition["paths"].values() for m, op in item.items() if m == "delete"]
    assert [(op["operationId"], op["x-ms-visibility"]) for op in deletes] == [(UNSUBSCRIBE.operation_id, "internal")]


def test_security_connection_and_paging(definition):
    assert definition["securityDefinitions"] == {"api_key": {
        "type": "apiKey", "in": "header", "name": "x-functions-key",
        "description": "An Azure Functions function key of the connector backend."}}
    assert definition["x-ms-capabilities"]["testConnection"]["operationId"] == "LookupInstances"
    props = build_api_properties()["properties"]
    assert props["connectionParameters"]["api_key"]["type"] == "securestring"
    assert [p["parameters"]["x-ms-apimTemplate-operationName"] for p in props["policyTemplateInstances"]] == [
        ["GetItems"], ["GetPartitionData"]]


def test_served_definition_takes_host_and_scheme_from_the_request_url():
    served = definition_for_url("http://127.0.0.1:7071/api/connector/apiDefinition.swagger.json?code=x")
    assert (served["host"], served["schemes"], served["basePath"]) == ("127.0.0.1:7071", ["http"], "/api")


@pytest.mark.parametrize("url", ["https://bad host/api", "https://a@b.net/api", "ftp://h.net/api",
                                 "https://h.net:99999999/x"])
def test_odd_hosts_are_refused(url):
    with pytest.raises(InvalidInput) as caught:
        definition_for_url(url)
    assert caught.value.code == "InvalidHost"


def test_paths_use_only_allowed_characters(definition):
    for path in definition["paths"]:
        assert re.fullmatch(r"(/[A-Za-z0-9\-]+|/\{[A-Za-z]+\})+", path), path
    assert len(json.dumps(definition)) < 1024 * 1024


def test_served_definition_takes_host_and_base_path_from_settings():
    served = definition_for_url("http://127.0.0.1:7071/api/connector/apiDefinition.swagger.json")
    assert (served["host"], served["basePath"], served["schemes"]) == ("127.0.0.1:7071", "/api", ["http"])
    fronted = definition_for_url("http://10.0.0.4/api/connector/apiDefinition.swagger.json",
                                 host="ci-connector.contoso.com", base_path="/ci/api")
    assert (fronted["host"], fronted["basePath"], fronted["schemes"]) == ("ci-connector.contoso.com", "/ci/api",
                                                                          ["https"])


@pytest.mark.parametrize("host, base_path, expected", [
    (None, "/api", "http://127.0.0.1:7071/api"),
    ("ci.contoso.com", "/gateway/ci", "https://ci.contoso.com/gateway/ci"),
])
def test_public_base_url_is_the_served_definitions_address(host, base_path, expected):
    url = "http://127.0.0.1:7071/api/instances/x/triggers/y/subscriptions?code=k"
    assert public_base_url(url, host=host, base_path=base_path) == expected
    if host:
        served = definition_for_url(url, host=host, base_path=base_path)
        assert f"https://{served['host']}{served['basePath']}" == expected


ENTRA = EntraConnection("11111111-2222-4333-8444-555555555555", "api://0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f")


def test_entra_mode_validates_like_the_function_key_mode(swagger_schema):
    definition = build_definition(entra=True)
    validate(definition)
    assert [e.message for e in swagger_schema.iter_errors(definition)] == []
    assert check(definition) == []
    assert definition["security"] == [{"oauth2_auth": []}]
    assert definition["securityDefinitions"]["oauth2_auth"]["flow"] == "accessCode"
    properties = build_api_properties(entra=ENTRA)
    schema = loads((MS_SCHEMAS / "paconn-apiProperties.schema.json").read_text(encoding="utf-8"))
    assert [e.message for e in Draft7Validator(schema).iter_errors(properties)] == []
    assert check_properties(properties) == []
    settings = properties["properties"]["connectionParameters"]["token"]["oAuthSettings"]
    assert settings["identityProvider"] == "aad" and settings["clientId"] == ENTRA.client_id
    assert settings["customParameters"]["resourceUri"] == {"value": ENTRA.resource_uri}


def test_entra_mode_changes_only_the_security(definition):
    entra = build_definition(entra=True)
    assert {k: v for k, v in entra.items() if "ecurity" not in k} == \
        {k: v for k, v in definition.items() if "ecurity" not in k}
    assert definition_for_url("https://x.example/api/connector", entra=True)["securityDefinitions"] == \
        entra["securityDefinitions"]


def test_rule_checker_refuses_a_half_entra_connection():
    properties = build_api_properties(entra=ENTRA)
    del properties["properties"]["connectionParameters"]["token"]["oAuthSettings"]["customParameters"]["resourceUri"]
    assert check_properties(properties)
    mixed = build_definition(entra=True)
    mixed["securityDefinitions"].update(build_definition()["securityDefinitions"])
    assert check(mixed)
