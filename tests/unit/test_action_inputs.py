"""Input validation derived from the action declarations."""
import pytest

from ciconnector.data_actions import action
from ciconnector.errors import InvalidInput
from ciconnector.operations import RawRequest, validate

INSTANCE = "2f9d3a51-8c4e-4b7a-9d2e-0a1b2c3d4e5f"


def _items(**query):
    return validate(action("GetItems"), RawRequest(
        route_params={"instanceId": INSTANCE, "entityName": "Customer"}, query=query))


def _error(call) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value


def test_defaults_fill_omitted_optional_parameters():
    args = _items()
    assert args == {"instanceId": INSTANCE, "entityName": "Customer", "$filter": None, "$select": None,
                    "$orderby": None, "$top": 100, "$skip": 0}


def test_values_are_converted_to_declared_types():
    args = _items(**{"$top": "5", "$skip": "10", "$select": "CustomerId, FullName", "$orderby": "FullName desc"})
    assert (args["$top"], args["$skip"], args["$select"]) == (5, 10, "CustomerId, FullName")


@pytest.mark.parametrize("query, field, code", [
    ({"$top": "abc"}, "$top", "InvalidParameterType"),
    ({"$top": "0"}, "$top", "ParameterOutOfRange"),
    ({"$top": "1001"}, "$top", "ParameterOutOfRange"),
    ({"$skip": "-1"}, "$skip", "ParameterOutOfRange"),
    ({"$select": "CustomerId;drop"}, "$select", "InvalidParameter"),
    ({"$orderby": "FullName sideways"}, "$orderby", "InvalidParameter"),
    ({"$filter": "CustomerId eq 'a'\n"}, "$filter", "InvalidParameter"),
    ({"$filter": "x" * 2049}, "$filter", "InvalidParameter"),
])
def test_bad_query_values_are_400s_naming_the_field(query, field, code):
    error = _error(lambda: _items(**query))
    assert (error.status, error.field, error.code) == (400, field, code)
    assert error.to_dict()["field"] == field


def test_path_values_are_checked_too():
    error = _error(lambda: validate(action("GetEntities"), RawRequest(route_params={"instanceId": "nope"})))
    assert (error.status, error.field) == (400, "instanceId")


def test_missing_required_parameter():
    error = _error(lambda: validate(action("SearchCustomerProfiles"),
                                        RawRequest(route_params={"instanceId": INSTANCE})))
    assert (error.code, error.field) == ("MissingParameter", "searchTerm")


def test_enum_values_match_case_insensitively_and_normalize():
    args = validate(action("StartRefresh"), RawRequest(route_params={"instanceId": INSTANCE},
                                                           query={"scope": "DATASOURCE", "forceRun": "False"}))
    assert (args["scope"], args["forceRun"]) == ("dataSource", False)
    error = _error(lambda: validate(action("StartRefresh"), RawRequest(
        route_params={"instanceId": INSTANCE}, query={"scope": "everything"})))
    assert (error.code, error.field) == ("InvalidParameter", "scope")


def test_boolean_must_be_true_or_false():
    error = _error(lambda: validate(action("StartRefresh"), RawRequest(
        route_params={"instanceId": INSTANCE}, query={"scope": "full", "forceRun": "yes"})))
    assert (error.code, error.field) == ("InvalidParameterType", "forceRun")


def test_final_dollar_does_not_accept_a_trailing_newline():
    error = _error(lambda: validate(action("GetEntities"), RawRequest(route_params={"instanceId": INSTANCE + "\n"})))
    assert error.field == "instanceId"


def _create(body: bytes, content_type: str = "application/json"):
    return validate(action("CreateItem"), RawRequest(
        route_params={"instanceId": INSTANCE, "entityName": "Customer"}, body=body, content_type=content_type))


def test_body_is_parsed_and_validated():
    assert _create(b'{"CustomerId": "c1"}', "application/json; charset=utf-8")["item"] == {"CustomerId": "c1"}


@pytest.mark.parametrize("body, content_type, code", [
    (b"", "application/json", "MissingBody"),
    (b'{"a": 1}', "text/plain", "UnsupportedContentType"),
    (b"{not json", "application/json", "InvalidJson"),
    (b"[1, 2]", "application/json", "InvalidBody"),
    (b"{}", "application/json", "InvalidBody"),
])
def test_bad_bodies_are_400s(body, content_type, code):
    error = _error(lambda: _create(body, content_type))
    assert (error.status, error.code) == (400, code)
    assert error.field.startswith("item")


def test_body_declarations_use_only_the_keywords_the_runtime_checks():
    from ciconnector.data_actions import ACTIONS
    from ciconnector.operations.validation import BODY_SCHEMA_KEYWORDS

    bodies = [p.schema or {} for a in ACTIONS for p in a.params if p.location == "body"]
    assert bodies and all(set(schema) <= BODY_SCHEMA_KEYWORDS for schema in bodies)


def test_body_problem_reports_type_and_size():
    from ciconnector.operations.validation import body_problem

    schema = {"type": "object", "minProperties": 1}
    assert body_problem(schema, {"a": 1}) is None
    assert "object" in body_problem(schema, [1])
    assert "at least 1" in body_problem(schema, {})
