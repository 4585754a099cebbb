"""CI client errors → HTTP answers with JSON bodies."""
import pytest

from ciconnector.actions.errors import ActionError, from_ci_error
from ciconnector.customer_insights import (AuthenticationError, BadRequestError, NotFoundError, ServiceError,
                                           ThrottledError, UnexpectedResponseError)


@pytest.mark.parametrize("error, status, code", [
    (NotFoundError("CI answered 404 on GET /v1/x", status=404), 404, "NotFound"),
    (BadRequestError("CI answered 400 on GET /v1/x: bad $filter", status=400), 400, "BadRequest"),
    (ServiceError("CI answered 503 on GET /v1/x", status=503), 502, "UpstreamError"),
    (ServiceError("CI timed out on GET /v1/x"), 502, "UpstreamError"),
    (UnexpectedResponseError("missing field 'value'", field="value"), 502, "UpstreamError"),
    (AuthenticationError("CI answered 401", status=401), 502, "UpstreamAuthenticationFailed"),
])
def test_mapping(error, status, code):
    answer = from_ci_error(error)
    assert (answer.status, answer.code) == (status, code)
    assert set(answer.to_json()) == {"code", "message"}


def test_bad_request_keeps_ci_reason_but_not_our_request_path():
    answer = from_ci_error(BadRequestError("CI answered 400 on GET /v1/instances/i/data/C: bad $filter", status=400))
    assert answer.message.endswith("bad $filter")
    assert "/v1/" not in answer.message


@pytest.mark.parametrize("retry_after, header", [(7.0, "7"), (0.2, "1"), (2.5, "3")])
def test_throttling_passes_retry_after_on(retry_after, header):
    answer = from_ci_error(ThrottledError("CI answered 429", retry_after=retry_after))
    assert (answer.status, answer.headers) == (429, {"Retry-After": header})


def test_throttling_without_retry_after_has_no_header():
    assert from_ci_error(ThrottledError("CI answered 429")).headers == {}


def test_field_is_included_only_when_known():
    assert ActionError(400, "X", "m", field="f").to_json() == {"code": "X", "message": "m", "field": "f"}
