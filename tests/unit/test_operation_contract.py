"""Whatever is validated is published, and vice versa: for every declared operation (actions, each
trigger's subscribe, unsubscribe), each parameter's constraints drive both the one validator and the
connector definition, and the two are compared here value by value."""
import re

import pytest

from ciconnector.connector import build_definition
from ciconnector.connector.emitter import CONSTRAINT_KEYWORDS
from ciconnector.data_actions import ACTIONS
from ciconnector.errors import InvalidInput
from ciconnector.operations import Operation, Param
from ciconnector.operations.validation import validate_value
from ciconnector.trigger_kinds import CATALOG, UNSUBSCRIBE

OPERATIONS: list[Operation] = [*(kind.subscribe for kind in CATALOG.values()), UNSUBSCRIBE,
                               *ACTIONS]
DEFINITION = build_definition()
CASES = [(op, p) for op in OPERATIONS for p in op.all_params() if p.location != "body"]
NOT_A_MATCH = "\x00"
"""A value no declared pattern accepts (checked per pattern below)."""


def published(op: Operation, param: Param) -> tuple[dict, bool]:
    """The published schema of ``param`` and whether it is published as required."""
    parameters = DEFINITION["paths"][op.path][op.method.lower()]["parameters"]
    if param.location == "field":
        body = next(p for p in parameters if p["in"] == "body")["schema"]
        return body["properties"][param.name], param.name in body["required"]
    found = next(p for p in parameters if p["name"] == param.name)
    return found, found["required"]


def wire(param: Param, value):
    """``value`` as the request carries it: text in the path and query, JSON in body fields."""
    return value if param.location == "field" or value is None else str(value)


def refused(param: Param, value) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        validate_value(param, wire(param, value))
    assert caught.value.field == param.name
    return caught.value


def declared_constraints(param: Param) -> dict:
    pairs = {"enum": list(param.enum) if param.enum is not None else None, "minimum": param.minimum,
             "maximum": param.maximum, "maxLength": param.max_length, "pattern": param.pattern}
    return {k: v for k, v in pairs.items() if v is not None}


def test_every_operation_is_published_once_under_its_route():
    ids = [op["operationId"] for item in DEFINITION["paths"].values() for op in item.values() if "operationId" in op]
    assert sorted(ids) == sorted(op.operation_id for op in OPERATIONS)


@pytest.mark.parametrize("op, param", CASES, ids=[f"{op.operation_id}.{p.name}" for op, p in CASES])
def test_published_constraints_are_the_validated_ones(op, param):
    schema, required = published(op, param)
    assert {k: v for k, v in schema.items() if k in CONSTRAINT_KEYWORDS} == declared_constraints(param)
    assert (schema["type"], schema.get("format"), schema.get("default")) == (param.type, param.format, param.default)
    assert required == (param.required or param.location == "path")


@pytest.mark.parametrize("op, param", CASES, ids=[f"{op.operation_id}.{p.name}" for op, p in CASES])
def test_a_value_just_outside_each_constraint_is_refused(op, param):
    if param.required or param.location == "path":
        refused(param, None)
    else:
        assert validate_value(param, None) == param.default
    if param.enum is not None:
        assert validate_value(param, wire(param, param.enum[0].upper())) == param.enum[0]
        refused(param, "not-" + param.enum[0])
    if param.minimum is not None:
        assert validate_value(param, wire(param, param.minimum)) == param.minimum
        assert refused(param, param.minimum - 1).code == "ParameterOutOfRange"
    if param.maximum is not None:
        assert validate_value(param, wire(param, param.maximum)) == param.maximum
        assert refused(param, param.maximum + 1).code == "ParameterOutOfRange"
    if param.max_length is not None:
        longest = "a" * param.max_length
        if param.pattern is None or re.search(param.pattern, longest):
            assert validate_value(param, longest) == longest
        refused(param, longest + "a")
    if param.pattern is not None:
        assert not re.search(param.pattern, NOT_A_MATCH), "pick another sample for this pattern"
        refused(param, NOT_A_MATCH)


def test_the_callback_rule_is_the_only_unpublished_check():
    ruled = [(op.operation_id, p.name) for op, p in CASES if p.rule is not None]
    assert ruled == [(kind.operation_name, "callbackUrl") for kind in CATALOG.values()]

