"""The action declarations are consistent: routes, parameters, pickers and schemas."""
import re

import pytest
from jsonschema import Draft4Validator

from ciconnector.data_actions import ACTIONS, TEST_CONNECTION_OPERATION, action

RESERVED = (r"^instances/\{instanceId\}/subscriptions", r"^instances/\{instanceId\}/triggers", r"^triggers/",
            r"^health$", r"^admin/")
BY_ID = {a.operation_id: a for a in ACTIONS}


def test_operation_ids_are_unique_pascal_case():
    ids = [a.operation_id for a in ACTIONS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]+", i) for i in ids)


def test_routes_and_methods_are_unique_and_clear_of_reserved_prefixes():
    pairs = [(a.method, a.route) for a in ACTIONS]
    assert len(pairs) == len(set(pairs))
    for a in ACTIONS:
        assert not any(re.match(r, a.route) for r in RESERVED), a.route


@pytest.mark.parametrize("a", ACTIONS, ids=lambda a: a.operation_id)
def test_route_placeholders_are_the_path_parameters(a):
    assert set(re.findall(r"\{(\w+)\}", a.route)) == {p.name for p in a.params if p.location == "path"}
    assert all(p.required for p in a.params if p.location == "path")


@pytest.mark.parametrize("a", ACTIONS, ids=lambda a: a.operation_id)
def test_schemas_are_valid_draft4(a):
    Draft4Validator.check_schema(a.response)
    for p in a.params:
        if p.location == "body":
            Draft4Validator.check_schema(p.schema)
        if p.pattern:
            re.compile(p.pattern)


@pytest.mark.parametrize("a", ACTIONS, ids=lambda a: a.operation_id)
def test_pickers_point_at_internal_lookups_with_the_fields_they_read(a):
    for p in a.params:
        if p.picker is None:
            continue
        lookup = BY_ID[p.picker.operation_id]
        assert lookup.visibility == "internal" and lookup.method == "GET"
        item = lookup.response["properties"][p.picker.collection]["items"]["properties"]
        assert {p.picker.value_path, p.picker.title_path} <= set(item)
        for target, value in p.picker.parameters.items():
            assert lookup.param(target) is not None
            if isinstance(value, str) and value.startswith("@"):
                assert a.param(value[1:]) is not None


def test_every_lookup_is_internal_and_every_other_action_visible():
    for a in ACTIONS:
        assert (a.visibility == "internal") == a.operation_id.startswith("Lookup")


def test_connection_test_is_a_parameterless_get():
    test = action(TEST_CONNECTION_OPERATION)
    assert test.method == "GET" and not test.params


def test_preview_actions_say_so():
    for a in ACTIONS:
        assert a.preview == a.summary.endswith("(Preview)")
