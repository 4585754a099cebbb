"""The one exception → HTTP answer table: connector errors, CI client errors, storage errors, the rest."""
import logging

import pytest
from azure.core.exceptions import ResourceNotFoundError, ServiceRequestError

from ciconnector.customer_insights import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    ServiceError,
    ThrottledError,
    UnexpectedResponseError,
)
from ciconnector.errors import (
    Conflict,
    ConnectorError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Throttled,
    Unavailable,
    UpstreamError,
)
from ciconnector.operations.answers import error_answer, from_ci_error


@pytest.mark.parametrize("error, status, code", [
    (NotFoundError("CI answered 404 on GET /v1/x", status=404), 404, "NotFound"),
    (BadRequestError("CI answered 400 on GET /v1/x: bad $filter", status=400), 400, "BadRequest"),
    (ServiceError("CI answered 503 on GET /v1/x", status=503), 502, "UpstreamError"),
    (ServiceError("CI timed out on GET /v1/x"), 502, "UpstreamError"),
    (UnexpectedResponseError("missing field 'value'", field="value"), 502, "UpstreamError"),
    (AuthenticationError("CI answered 401", status=401), 502, "UpstreamAuthenticationFailed"),
])
def test_ci_errors(error, status, code):
    answer = error_answer(error, operation="Op")
    assert (answer.status, answer.body["code"]) == (status, code)
    assert set(answer.body) == {"code", "message"}


def test_bad_request_keeps_ci_reason_but_not_our_request_path():
    answer = from_ci_error(BadRequestError("CI answered 400 on GET /v1/instances/i/data/C: bad $filter", status=400))
    assert answer.message.endswith("bad $filter")
    assert "/v1/" not in answer.message


@pytest.mark.parametrize("retry_after, header", [(7.0, "7"), (0.2, "1"), (2.5, "3")])
def test_throttling_passes_retry_after_on(retry_after, header):
    answer = error_answer(ThrottledError("CI answered 429", retry_after=retry_after), operation="Op")
    assert (answer.status, answer.headers) == (429, {"Retry-After": header})


def test_throttling_without_retry_after_has_no_header():
    assert from_ci_error(ThrottledError("CI answered 429")).headers == {}


@pytest.mark.parametrize("error", [ServiceRequestError("connection refused"), ResourceNotFoundError("no table")])
def test_storage_errors_are_503_with_retry_after(error):
    answer = error_answer(error, operation="Op")
    assert (answer.status, answer.body["code"], answer.headers) == (503, "StorageUnavailable", {"Retry-After": "10"})


def test_unknown_errors_are_500_json_and_logged_not_shown(caplog):
    with caplog.at_level(logging.ERROR):
        answer = error_answer(KeyError("secret-detail"), operation="Op")
    assert answer.status == 500 and answer.body == {
        "code": "InternalError", "message": "The connector backend failed; the error was logged."}
    assert "secret-detail" not in str(answer.body)
    assert "Op failed" in caplog.text and "secret-detail" in caplog.text


@pytest.mark.parametrize("cls, status", [(InvalidInput, 400), (NotFound, 404), (Conflict, 409),
                                         (PayloadTooLarge, 413), (Throttled, 429), (UpstreamError, 502),
                                         (Unavailable, 503)])
def test_connector_errors_answer_for_themselves(cls, status):
    answer = error_answer(cls("Code", "A message.", field="f", headers={"Retry-After": "3"}), operation="Op")
    assert (answer.status, answer.body, answer.headers) == (
        status, {"code": "Code", "message": "A message.", "field": "f"}, {"Retry-After": "3"})
    assert issubclass(cls, ConnectorError)


def test_field_is_included_only_when_known():
    assert InvalidInput("X", "m").to_dict() == {"code": "X", "message": "m"}
