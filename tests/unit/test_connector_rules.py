"""Each certification / validator rule fails on a definition that breaks it (so the checker can fail)."""
import copy
from typing import Any, Callable

import pytest

from dev import connector_rules as rules
from dev.connector_rules import RULES, check, check_properties

PICK = {"x-ms-dynamic-values": {"operationId": "LookupInstances", "value-collection": "value",
                                "value-path": "id", "value-title": "name"}}
INSTANCE = {"name": "instanceId", "in": "path", "required": True, "type": "string", "x-ms-url-encoding": "single",
            "x-ms-summary": "Instance", "description": "The instance to use.", **PICK}
LIST = {"type": "object", "properties": {"value": {"type": "array", "items": {"type": "object"}}}}


def valid() -> dict[str, Any]:
    """A small definition that passes every rule: one action, one lookup, one trigger, its DELETE."""
    return {
        "swagger": "2.0",
        "info": {"title": "Sample Events", "version": "1.0",
                 "description": "Start flows on sample events and read sample data from flows.",
                 "contact": {"name": "Team", "url": "https://example.com", "email": "team@example.com"}},
        "host": "app.example.net", "basePath": "/api", "schemes": ["https"],
        "paths": {
            "/lookups/instances": {"get": {
                "operationId": "LookupInstances", "summary": "List instances for a dropdown",
                "description": "Lists instances.", "x-ms-visibility": "internal", "parameters": [],
                "responses": {"200": {"description": "OK", "schema": LIST}}}},
            "/instances/{instanceId}/things": {"get": {
                "operationId": "GetThings", "summary": "Get things", "description": "Gets the things.",
                "x-ms-visibility": "important",
                "parameters": [copy.deepcopy(INSTANCE),
                               {"name": "top", "in": "query", "type": "integer", "default": 10,
                                "x-ms-summary": "Top Count", "description": "How many to return."}],
                "responses": {"200": {"description": "OK", "schema": LIST}, "400": {"description": "Bad input."}}}},
            "/instances/{instanceId}/triggers/thing/subscriptions": {
                "x-ms-notification-content": {"description": "A thing.", "schema": {"type": "object"}},
                "post": {
                    "operationId": "ThingHappened", "summary": "When a thing happens",
                    "description": "Triggers when a thing happens.", "x-ms-visibility": "important",
                    "x-ms-trigger": "single", "x-ms-trigger-hint": "Make a thing happen.",
                    "parameters": [copy.deepcopy(INSTANCE), {
                        "name": "body", "in": "body", "required": True, "x-ms-summary": "Subscription",
                        "description": "The subscription.", "schema": {
                            "type": "object", "required": ["callbackUrl", "mode"], "properties": {
                                "callbackUrl": {"type": "string", "x-ms-notification-url": True,
                                                "x-ms-visibility": "internal", "x-ms-summary": "Callback URL",
                                                "description": "Set by the platform."},
                                "mode": {"type": "string", "x-ms-visibility": "internal", "default": "all",
                                         "x-ms-summary": "Mode", "description": "Which things."}}}}],
                    "responses": {"201": {"description": "Created."}}}},
            "/instances/{instanceId}/subscriptions/{subscriptionId}": {"delete": {
                "operationId": "DeleteSubscription", "summary": "Delete a subscription",
                "description": "Deletes a subscription.", "x-ms-visibility": "internal",
                "parameters": [copy.deepcopy(INSTANCE), {
                    "name": "subscriptionId", "in": "path", "required": True, "type": "string",
                    "x-ms-url-encoding": "single", "x-ms-summary": "Subscription ID",
                    "description": "The subscription to delete."}],
                "responses": {"204": {"description": "Deleted."}}}},
        },
        "securityDefinitions": {"api_key": {"type": "apiKey", "in": "header", "name": "x-functions-key"}},
        "security": [{"api_key": []}],
        "x-ms-connector-metadata": [
            {"propertyName": "Website", "propertyValue": "https://example.com"},
            {"propertyName": "Privacy policy", "propertyValue": "https://example.com/privacy"},
            {"propertyName": "Categories", "propertyValue": "Data;Marketing"}],
        "x-ms-capabilities": {"testConnection": {"operationId": "LookupInstances", "parameters": {}}},
    }


def _op(d, path, method="get"):
    return d["paths"][path][method]


def _things(d):
    return _op(d, "/instances/{instanceId}/things")


def _trigger(d):
    return _op(d, "/instances/{instanceId}/triggers/thing/subscriptions", "post")


def _callback(d):
    return _trigger(d)["parameters"][1]["schema"]["properties"]["callbackUrl"]


def _set(getter: Callable, key: str, value: Any) -> Callable:
    def mutate(d):
        target = getter(d)
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return mutate


def _add_operation(path, method, op):
    return lambda d: d["paths"].setdefault(path, {}).__setitem__(method, op)


# rule name → mutations that must each make that rule fail
VIOLATIONS: dict[str, list[Callable]] = {
    "swagger_version": [_set(lambda d: d, "swagger", "3.0")],
    "title": [_set(lambda d: d["info"], "title", "A Title That Is Much Too Long For It"),
              _set(lambda d: d["info"], "title", "Sample API"),
              _set(lambda d: d["info"], "title", "Power Automate Things"),
              _set(lambda d: d["info"], "title", "Sample Events!")],
    "connector_description": [_set(lambda d: d["info"], "description", "Too short."),
                              _set(lambda d: d["info"], "description", "Use this in Power Apps to read sample data.")],
    "contact_and_metadata": [_set(lambda d: d["info"]["contact"], "email", None),
                             lambda d: d["x-ms-connector-metadata"].pop(1),
                             lambda d: d["x-ms-connector-metadata"][2].update(propertyValue="Data;AI;Finance"),
                             lambda d: d["x-ms-connector-metadata"][2].update(propertyValue="Gardening")],
    "host_and_base_path": [_set(lambda d: d, "host", "https://app.example.net"),
                           _set(lambda d: d, "host", "app.example.net/api"),
                           _set(lambda d: d, "basePath", "api")],
    "security": [_set(lambda d: d["securityDefinitions"]["api_key"], "name", "x-api-key"),
                 _set(lambda d: d, "security", [])],
    "connection_test": [_set(lambda d: d, "x-ms-capabilities", {}),
                        _set(lambda d: d["x-ms-capabilities"]["testConnection"], "operationId", "Nope"),
                        _set(lambda d: d["x-ms-capabilities"]["testConnection"], "operationId", "GetThings")],
    "limits": [lambda d: d["paths"].update({f"/x{i}": {"get": {"operationId": f"X{i}"}} for i in range(257)}),
               _set(lambda d: d["info"], "x-padding", "x" * (1024 * 1024))],
    "operation_ids": [_set(_things, "operationId", "getThings"), _set(_things, "operationId", "Get_Things"),
                      _set(_things, "operationId", "LookupInstances")],
    "summaries": [_set(_things, "summary", "Get things: all of them"), _set(_things, "summary", "x" * 81),
                  _set(_things, "summary", "get things"), _set(_things, "summary", None)],
    "descriptions": [_set(_things, "description", None), _set(_things, "description", "Get things."),
                     _set(_things, "description", "Gets the things"),
                     lambda d: _things(d)["parameters"][1].update(description="Top count.")],
    "visibility": [_set(_things, "x-ms-visibility", None), _set(_things, "x-ms-visibility", "hidden")],
    "input_summaries": [lambda d: _things(d)["parameters"][1].pop("x-ms-summary"),
                        lambda d: _trigger(d)["parameters"][1]["schema"]["properties"]["mode"].pop("x-ms-summary")],
    "title_case_labels": [lambda d: _things(d)["parameters"][1].update({"x-ms-summary": "Top count"})],
    "path_parameters": [lambda d: _things(d)["parameters"][0].update(required=False),
                        lambda d: _things(d)["parameters"][0].pop("x-ms-url-encoding"),
                        lambda d: _things(d)["parameters"].pop(0),
                        lambda d: _things(d)["parameters"].append(
                            {**INSTANCE, "name": "extraId", "x-ms-summary": "Extra", "description": "Extra id."})],
    "internal_inputs": [
        lambda d: _trigger(d)["parameters"][1]["schema"]["properties"]["mode"].pop("default"),
        lambda d: _trigger(d)["parameters"][1]["schema"]["required"].remove("mode"),
        lambda d: _things(d)["parameters"][1].update({"x-ms-visibility": "internal"})],
    "parameter_shape": [
        lambda d: _things(d)["parameters"].append({"name": "connectionId", "in": "query", "type": "string"}),
        lambda d: _things(d)["parameters"].append({"name": "body", "in": "body", "schema": {"type": "object"}}),
        lambda d: _trigger(d)["parameters"].append({"name": "more", "in": "body", "schema": {"type": "object"}})],
    "responses": [_set(_things, "responses", {"400": {"description": "Bad."}}),
                  lambda d: _things(d)["responses"]["400"].update(schema={"type": "object"}),
                  lambda d: _things(d)["responses"].update(default={"description": "x", "schema": {}})],
    "webhooks": [
        lambda d: d["paths"]["/instances/{instanceId}/triggers/thing/subscriptions"].pop("x-ms-notification-content"),
        _set(_trigger, "x-ms-trigger-hint", None),
        _set(_trigger, "summary", "Thing happened"),
        lambda d: _trigger(d)["responses"]["201"].update(schema={"type": "object"}),
        lambda d: _callback(d).pop("x-ms-notification-url"),
        lambda d: _callback(d).update(type="integer"),
        lambda d: _trigger(d)["parameters"][1]["schema"]["required"].remove("callbackUrl"),
        lambda d: _trigger(d)["parameters"][1].update(required=False),
        lambda d: _callback(d).pop("x-ms-visibility"),
        lambda d: _op(d, "/instances/{instanceId}/subscriptions/{subscriptionId}", "delete").update(
            {"x-ms-visibility": "advanced"})],
    "notification_url_position": [
        lambda d: _things(d)["responses"]["200"]["schema"]["properties"]["value"].update(
            {"x-ms-notification-url": True}),
        lambda d: _things(d)["parameters"].append({"name": "cb", "in": "query", "type": "string",
                                                   "x-ms-notification-url": True}),
        lambda d: d["paths"]["/instances/{instanceId}/things"].update(
            {"x-ms-notification-content": {"schema": {"type": "object"}}})],
    "dynamic_references": [
        lambda d: _things(d)["parameters"][0]["x-ms-dynamic-values"].update(operationId="Nope"),
        lambda d: _things(d)["parameters"][0]["x-ms-dynamic-values"].update(parameters={"x": {"parameter": "top"}}),
        lambda d: _things(d)["parameters"][1].update({"x-ms-dynamic-list": {
            "operationId": "GetThings", "parameters": {"instanceId": {"parameterReference": "missing"}}}})],
    "pickers": [lambda d: _things(d)["parameters"][0].pop("x-ms-dynamic-values"),
                lambda d: _trigger(d)["parameters"][1]["schema"]["properties"].update(
                    segmentName={"type": "string", "x-ms-summary": "Segment", "description": "A segment."})],
}


def test_the_sample_definition_passes_every_rule():
    assert check(valid()) == []


def test_every_rule_has_violations_to_prove_it():
    assert set(VIOLATIONS) == set(RULES)


@pytest.mark.parametrize("rule_name, index", [(name, i) for name, cases in VIOLATIONS.items()
                                              for i in range(len(cases))])
def test_rule_fails_on_a_violating_definition(rule_name, index):
    d = valid()
    VIOLATIONS[rule_name][index](d)
    assert RULES[rule_name](d), f"{rule_name} accepted violation #{index}"
    assert any(v.startswith(rule_name + ":") for v in check(d))


def _properties() -> dict:
    return {"properties": {
        "connectionParameters": {"api_key": {"type": "securestring", "uiDefinition": {
            "displayName": "Function key", "constraints": {"required": "true"}}}},
        "iconBrandColor": "#0b556a", "publisher": "Team", "stackOwner": "Team"}}


def test_properties_rules_pass_and_fail():
    assert check_properties(_properties()) == []
    broken = [lambda p: p["properties"].pop("stackOwner"),
              lambda p: p["properties"]["connectionParameters"]["api_key"].update(type="string"),
              lambda p: p["properties"]["connectionParameters"]["api_key"]["uiDefinition"]["constraints"].update(
                  required="false"),
              lambda p: p["properties"].update(iconBrandColor="orange")]
    assert set(rules.PROPERTY_RULES) == {"publisher", "key_connection_parameter", "brand_color"}
    for index, mutate in enumerate(broken):
        props = _properties()
        mutate(props)
        assert check_properties(props), f"apiProperties violation #{index} accepted"
