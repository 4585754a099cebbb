"""The trigger catalog is consistent, follows the connector certification rules, and validates subscriptions."""
import json
import re
from datetime import datetime, timezone

import pytest
from jsonschema import Draft4Validator

from ciconnector.customer_insights import Measure
from ciconnector.errors import InvalidInput
from ciconnector.operations import RawRequest, validate
from ciconnector.trigger_kinds import CATALOG, ensure_scalar_measure, trigger_kind
from ciconnector.trigger_kinds.events import FIELD_SCHEMAS, REQUIRED_FIELDS

INSTANCE = "6f0e2a1c-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
DS = "1a2b3c4d-0000-4000-8000-000000000001"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
SWAGGER_SCHEMA_KEYWORDS = {"type", "properties", "items", "required", "description", "format", "x-ms-summary"}
POLL_RESOURCES = {"dataSources", "jobs", "segments", "measures", "status"}
VALID = {
    "dataSourceRefreshFailed": {"instanceId": INSTANCE},
    "dataSourceRefreshSucceeded": {"instanceId": INSTANCE, "dataSourceId": DS},
    "segmentThresholdCrossed": {"instanceId": INSTANCE, "segmentName": "HighValue", "threshold": 1000},
    "measureThresholdCrossed": {"instanceId": INSTANCE, "measureName": "TotalRevenue", "threshold": -2.5,
                                "direction": "either"},
    "fullRefreshCompleted": {"instanceId": INSTANCE, "includeOnDemand": True},
    "unificationRefreshCompleted": {"instanceId": INSTANCE},
}


def subscribe_args(kind_id, raw):
    """What subscribe validation makes of ``raw``: its instanceId in the path, the rest as body fields."""
    kind = trigger_kind(kind_id)
    fields = dict(raw)
    request = RawRequest(route_params={"instanceId": fields.pop("instanceId", "")}, content_type="application/json",
                         body=json.dumps({"callbackUrl": "https://example.com/cb?sig=x", **fields}).encode())
    return kind, kind.parameters_of(validate(kind.subscribe, request))


def strict(schema):
    """A copy of ``schema`` that also rejects keys the schema does not declare."""
    if schema.get("type") == "object":
        return {**schema, "additionalProperties": False,
                "properties": {k: strict(v) for k, v in schema["properties"].items()}}
    if schema.get("type") == "array":
        return {**schema, "items": strict(schema["items"])}
    return schema


def assert_matches_schema(kind, payload):
    validator = Draft4Validator(strict(kind.notification_schema), format_checker=Draft4Validator.FORMAT_CHECKER)
    errors = [e.message for e in validator.iter_errors(payload)]
    assert not errors, errors


def walk(schema):
    """Every schema node below ``schema``, itself included."""
    yield schema
    for child in schema.get("properties", {}).values():
        yield from walk(child)
    if "items" in schema:
        yield from walk(schema["items"])


def labelled(schema):
    """The property nodes below ``schema`` (the ones shown as dynamic content)."""
    for child in schema.get("properties", {}).values():
        yield child
        yield from labelled(child)
    if "items" in schema:
        yield from labelled(schema["items"])


def test_catalog_covers_the_six_documented_triggers():
    assert list(CATALOG) == list(VALID)
    assert all(kind.id == kid for kid, kind in CATALOG.items())


def test_ids_and_operation_names_are_unique_and_well_formed():
    kinds = list(CATALOG.values())
    assert len({k.operation_name for k in kinds}) == len(kinds)
    for kind in kinds:
        assert re.fullmatch(r"[a-z][A-Za-z0-9]+", kind.id)
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", kind.operation_name)
        assert kind.operation_name[0].lower() + kind.operation_name[1:] == kind.id


@pytest.mark.parametrize("kind", CATALOG.values(), ids=list(CATALOG))
def test_strings_follow_certification_rules(kind):
    assert len(kind.summary) <= 80
    assert re.fullmatch(r"[A-Za-z0-9 ()]+", kind.summary), "summary: alphanumerics/parentheses, no punctuation"
    assert kind.summary.startswith("When ") and kind.summary != kind.summary.title()
    assert kind.description.endswith(".") and kind.description != kind.summary
    assert kind.hint.endswith(".")
    for p in kind.parameters:
        assert all(word[0].isupper() for word in p.summary.split()), p.summary
        assert p.description.endswith(".") and p.description != p.summary
    for node in walk(kind.notification_schema):
        assert node["description"].endswith(".")
    for node in labelled(kind.notification_schema):
        assert all(word[0].isupper() for word in node["x-ms-summary"].split()), node["x-ms-summary"]


@pytest.mark.parametrize("kind", CATALOG.values(), ids=list(CATALOG))
def test_declarations_are_consistent(kind):
    names = [p.name for p in kind.parameters]
    assert len(set(names)) == len(names)
    assert kind.parameters[0].name == "instanceId" and kind.parameters[0].resource == "instance"
    assert kind.resources and kind.resources <= POLL_RESOURCES
    for p in kind.parameters:
        assert not (p.required and p.default is not None), "a required parameter has no default"
        assert p.enum is None or p.default in (None, *p.enum)
    summaries = [n["x-ms-summary"] for n in labelled(kind.notification_schema)]
    assert len(set(summaries)) == len(summaries), "dynamic-content labels must be distinguishable"


@pytest.mark.parametrize("kind", CATALOG.values(), ids=list(CATALOG))
def test_notification_schema_is_a_swagger_compatible_draft4_schema(kind):
    Draft4Validator.check_schema(kind.notification_schema)
    schema = kind.notification_schema
    assert schema["required"] == list(REQUIRED_FIELDS)
    assert set(schema["properties"]) <= set(FIELD_SCHEMAS)
    for node in walk(schema):
        assert set(node) <= SWAGGER_SCHEMA_KEYWORDS | {"required"}, "Swagger 2.0 schema subset only"
        assert isinstance(node["type"], str), "Swagger 2.0 has no type lists / nullable"


@pytest.mark.parametrize("kind", CATALOG.values(), ids=list(CATALOG))
@pytest.mark.parametrize("direction", ["above", "below", "either"])
def test_sample_notification_validates_and_is_marked_test(kind, direction):
    raw = dict(VALID[kind.id])
    if any(p.name == "direction" for p in kind.parameters):
        raw["direction"] = direction
    _, params = subscribe_args(kind.id, raw)
    payload = kind.sample_event(INSTANCE, params, NOW).to_notification()
    assert payload["isTest"] is True and payload["trigger"] == kind.id and payload["instanceId"] == INSTANCE
    assert_matches_schema(kind, payload)
    assert kind.sample_event(INSTANCE, params, NOW) == kind.sample_event(INSTANCE, params, NOW)


def test_segment_notification_values_are_integers():
    kind = CATALOG["segmentThresholdCrossed"]
    for name in ("previousValue", "currentValue", "threshold"):
        assert kind.notification_schema["properties"][name]["type"] == "integer"


def resources(kind_id):
    return {p.name: p.resource for p in CATALOG[kind_id].parameters if p.resource is not None}


def test_parameters_name_the_resources_subscribe_checks():
    assert resources("dataSourceRefreshFailed") == {"instanceId": "instance", "dataSourceId": "dataSource"}
    assert resources("segmentThresholdCrossed") == {"instanceId": "instance", "segmentName": "segment"}
    assert resources("measureThresholdCrossed") == {"instanceId": "instance", "measureName": "measure"}
    assert resources("fullRefreshCompleted") == {"instanceId": "instance"}


@pytest.mark.parametrize("kind_id, raw, expected", [
    ("dataSourceRefreshFailed", {"instanceId": INSTANCE.upper()}, {"instanceId": INSTANCE, "dataSourceId": None}),
    ("dataSourceRefreshFailed", {"instanceId": INSTANCE, "dataSourceId": " "},
     {"instanceId": INSTANCE, "dataSourceId": None}),
    ("dataSourceRefreshSucceeded", {"instanceId": INSTANCE, "dataSourceId": DS.upper()},
     {"instanceId": INSTANCE, "dataSourceId": DS.upper()}),
    ("dataSourceRefreshSucceeded", {"instanceId": INSTANCE, "dataSourceId": " PoS "},
     {"instanceId": INSTANCE, "dataSourceId": "PoS"}),
    ("segmentThresholdCrossed", {"instanceId": INSTANCE, "segmentName": " HighValue ", "threshold": "250"},
     {"instanceId": INSTANCE, "segmentName": "HighValue", "threshold": 250, "direction": "above"}),
    ("segmentThresholdCrossed", {"instanceId": INSTANCE, "segmentName": "S", "threshold": 0.0, "direction": "Below"},
     {"instanceId": INSTANCE, "segmentName": "S", "threshold": 0, "direction": "below"}),
    ("measureThresholdCrossed", {"instanceId": INSTANCE, "measureName": "M", "threshold": -12.5, "direction": None},
     {"instanceId": INSTANCE, "measureName": "M", "threshold": -12.5, "direction": "above"}),
    ("fullRefreshCompleted", {"instanceId": INSTANCE}, {"instanceId": INSTANCE, "includeOnDemand": False}),
    ("fullRefreshCompleted", {"instanceId": INSTANCE, "includeOnDemand": "true"},
     {"instanceId": INSTANCE, "includeOnDemand": True}),
    ("unificationRefreshCompleted", {"instanceId": INSTANCE}, {"instanceId": INSTANCE}),
])
def test_parameters_are_normalized(kind_id, raw, expected):
    kind, params = subscribe_args(kind_id, raw)
    assert kind is CATALOG[kind_id] and params == expected


SEG = {"instanceId": INSTANCE, "segmentName": "HighValue", "threshold": 10}


@pytest.mark.parametrize("kind_id, raw, code, field", [
    ("nope", {}, "UnknownTriggerKind", "triggerKind"),
    (None, {}, "UnknownTriggerKind", "triggerKind"),
    (["segmentThresholdCrossed"], {}, "UnknownTriggerKind", "triggerKind"),
    ("dataSourceRefreshFailed", {}, "MissingParameter", "instanceId"),
    ("dataSourceRefreshFailed", {"instanceId": "contoso"}, "InvalidParameter", "instanceId"),
    ("dataSourceRefreshFailed", {"instanceId": INSTANCE, "callbackUrl": ""}, "MissingCallbackUrl", "callbackUrl"),
    ("dataSourceRefreshFailed", {"instanceId": INSTANCE, "dataSourceId": "p o s"}, "InvalidParameter",
     "dataSourceId"),
    ("dataSourceRefreshFailed", {"instanceId": INSTANCE, "segmentName": "x"}, "UnknownParameter", "segmentName"),
    ("segmentThresholdCrossed", {**SEG, "segmentName": None}, "MissingParameter", "segmentName"),
    ("segmentThresholdCrossed", {**SEG, "segmentName": "x" * 257}, "InvalidParameter", "segmentName"),
    ("segmentThresholdCrossed", {**SEG, "segmentName": "bad\nname"}, "InvalidParameter", "segmentName"),
    ("segmentThresholdCrossed", {**SEG, "segmentName": "bad\x85name"}, "InvalidParameter", "segmentName"),
    ("segmentThresholdCrossed", {**SEG, "segmentName": 7}, "InvalidParameterType", "segmentName"),
    ("segmentThresholdCrossed", {**SEG, "threshold": None}, "MissingParameter", "threshold"),
    ("segmentThresholdCrossed", {**SEG, "threshold": "many"}, "InvalidParameterType", "threshold"),
    ("segmentThresholdCrossed", {**SEG, "threshold": True}, "InvalidParameterType", "threshold"),
    ("segmentThresholdCrossed", {**SEG, "threshold": [1]}, "InvalidParameterType", "threshold"),
    ("segmentThresholdCrossed", {**SEG, "threshold": 10.5}, "InvalidParameterType", "threshold"),
    ("segmentThresholdCrossed", {**SEG, "threshold": float("nan")}, "InvalidParameterType", "threshold"),
    ("segmentThresholdCrossed", {**SEG, "threshold": "inf"}, "InvalidParameterType", "threshold"),
    ("segmentThresholdCrossed", {**SEG, "threshold": -1}, "ParameterOutOfRange", "threshold"),
    ("segmentThresholdCrossed", {**SEG, "direction": "up"}, "InvalidParameter", "direction"),
    ("segmentThresholdCrossed", {**SEG, "direction": 1}, "InvalidParameterType", "direction"),
    ("measureThresholdCrossed", {"instanceId": INSTANCE, "measureName": "M"}, "MissingParameter", "threshold"),
    ("measureThresholdCrossed", {"instanceId": INSTANCE, "measureName": "M", "threshold": "1,5"},
     "InvalidParameterType", "threshold"),
    ("fullRefreshCompleted", {"instanceId": INSTANCE, "includeOnDemand": "yes"}, "InvalidParameterType",
     "includeOnDemand"),
    ("fullRefreshCompleted", {"instanceId": INSTANCE, "includeOnDemand": 1}, "InvalidParameterType",
     "includeOnDemand"),
])
def test_bad_subscriptions_are_refused_with_code_and_field(kind_id, raw, code, field):
    with pytest.raises(InvalidInput) as err:
        subscribe_args(kind_id, raw)
    assert (err.value.code, err.value.field) == (code, field)
    body = err.value.to_dict()
    assert body == {"code": code, "message": err.value.message, "field": field}
    assert body["message"].endswith(".")


def test_dimensioned_measure_is_refused_at_subscribe_time():
    ensure_scalar_measure(Measure.from_api({"name": "Revenue", "definition": {"isScalar": True}}))
    with pytest.raises(InvalidInput) as err:
        ensure_scalar_measure(Measure.from_api({"name": "RevenueByStore", "definition": {"isScalar": False}}))
    assert (err.value.code, err.value.field) == ("MeasureNotScalar", "measureName")
    assert "RevenueByStore" in err.value.message


@pytest.mark.parametrize("body, code", [(b"[1]", "InvalidJson"), (b"", "MissingBody"), (b"{", "InvalidJson")])
def test_the_subscribe_body_must_be_a_json_object(body, code):
    kind = CATALOG["dataSourceRefreshFailed"]
    with pytest.raises(InvalidInput) as err:
        validate(kind.subscribe, RawRequest(route_params={"instanceId": INSTANCE}, body=body,
                                            content_type="application/json"))
    assert (err.value.code, err.value.field) == (code, "body")
