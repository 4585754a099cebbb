"""Typed errors raised by the Customer Insights client."""
from __future__ import annotations


class CustomerInsightsError(Exception):
    """Base class of every error the Customer Insights client raises.

    Attributes:
        status: HTTP status CI answered with, or None when no answer arrived.
        error_code: CI's ``errorCode`` from an ApiErrorResult / ODataError body, when present.
    """

    def __init__(self, message: str, *, status: int | None = None, error_code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code


class AuthenticationError(CustomerInsightsError):
    """No token could be obtained, or CI refused the token or subscription key (401/403)."""


class PermissionDeniedError(CustomerInsightsError):
    """CI refused a call made on behalf of a user: their CI role does not allow it (403)."""


class NotFoundError(CustomerInsightsError):
    """The instance, entity or other resource does not exist (404)."""


class BadRequestError(CustomerInsightsError):
    """CI rejected the request as invalid (400, 406, 409)."""


class ThrottledError(CustomerInsightsError):
    """CI kept answering 429 after the retry budget was spent.

    Attributes:
        retry_after: seconds CI asked to wait, when it said so.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, status=429, **kwargs)
        self.retry_after = retry_after


class ServiceError(CustomerInsightsError):
    """CI failed (5xx), timed out or could not be reached, after retries."""


class UnexpectedResponseError(CustomerInsightsError):
    """CI answered with a payload that does not have the expected shape.

    Attributes:
        field: dotted path of the missing or malformed field (``""`` for the whole body).
    """

    def __init__(self, message: str, *, field: str = "", **kwargs):
        super().__init__(message, **kwargs)
        self.field = field
