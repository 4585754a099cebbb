"""Errors an action answers with, and the mapping of CI client errors onto them.

Every error is a JSON body ``{code, message, field?}``; no stack trace or CI credential ever
reaches it.
"""
from __future__ import annotations

import math

from ciconnector.customer_insights import (AuthenticationError, BadRequestError, CustomerInsightsError,
                                           NotFoundError, ThrottledError)


class ActionError(Exception):
    """An action's failure answer.

    Attributes:
        status: HTTP status.
        code: stable PascalCase error code.
        message: English sentence for the flow maker.
        field: the offending input, when there is one.
        headers: extra response headers (``Retry-After`` on 429).
    """

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    def to_json(self) -> dict[str, str]:
        """The ``{code, message, field?}`` body."""
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


def bad_input(code: str, message: str, field: str) -> ActionError:
    """A 400 for an invalid input named ``field``."""
    return ActionError(400, code, message, field=field)


def not_found(code: str, message: str, field: str | None = None) -> ActionError:
    """A 404 for a CI resource that does not exist (or is outside the instance allowlist)."""
    return ActionError(404, code, message, field=field)


def from_ci_error(error: CustomerInsightsError) -> ActionError:
    """The answer for a CI client error: 404, 400, 429 (``Retry-After`` passed on) or 502."""
    if isinstance(error, NotFoundError):
        return not_found("NotFound", "Customer Insights found no such resource.")
    if isinstance(error, BadRequestError):
        return ActionError(400, "BadRequest", f"Customer Insights rejected the request: {_ci_text(error)}")
    if isinstance(error, ThrottledError):
        headers = {}
        if error.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
        return ActionError(429, "Throttled", "Customer Insights is throttling requests; retry later.",
                           headers=headers)
    if isinstance(error, AuthenticationError):
        return ActionError(502, "UpstreamAuthenticationFailed",
                           "The connector backend could not authenticate to Customer Insights.")
    return ActionError(502, "UpstreamError", "Customer Insights failed or did not answer in time.")


def _ci_text(error: CustomerInsightsError) -> str:
    """CI's own explanation without our request path: the text after 'CI answered NNN on ...: '."""
    _, sep, detail = error.message.partition(": ")
    return (detail if sep else "invalid request.")[:300]
