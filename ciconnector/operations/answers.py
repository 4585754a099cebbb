"""The one table from an exception to the HTTP answer, used by every HTTP function.

:class:`~ciconnector.errors.ConnectorError` answers for itself (stores raise only those, see
:mod:`ciconnector.storage.azure_errors`); CI client errors are mapped here, and so is an azure-core
error raised outside a store (a 503 ``StorageUnavailable``, as the stores map it); anything else is
a 500 ``InternalError`` whose details go to the log, never into the body.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from azure.core.exceptions import AzureError

from ..customer_insights import (
    AuthenticationError,
    BadRequestError,
    CustomerInsightsError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
)
from ..errors import ConnectorError, Forbidden, InvalidInput, NotFound, StorageUnavailable, Throttled, UpstreamError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, JSON body and extra headers."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


def error_answer(error: BaseException, *, operation: str) -> Answer:
    """The answer for ``error`` raised while serving ``operation`` (logged as the table says)."""
    problem = as_connector_error(error, operation=operation)
    return Answer(problem.status, problem.to_dict(), problem.headers)


def as_connector_error(error: BaseException, *, operation: str) -> ConnectorError:
    """``error`` as a :class:`ConnectorError`: itself, a CI or storage failure mapped, or an internal error."""
    if isinstance(error, ConnectorError):
        return error
    if isinstance(error, CustomerInsightsError):
        mapped = from_ci_error(error)
        logger.info("%s: CI error %s (HTTP %s) -> %d", operation, type(error).__name__, error.status, mapped.status)
        return mapped
    if isinstance(error, AzureError):
        logger.error("storage failure in %s: %s", operation, type(error).__name__)
        return StorageUnavailable()
    logger.error("%s failed", operation, exc_info=error)
    return ConnectorError("InternalError", "The connector backend failed; the error was logged.")


def from_ci_error(error: CustomerInsightsError) -> ConnectorError:
    """The answer for a CI client error: 404, 400, 403 (the user's CI role refused a call made on
    their behalf), 429 (``Retry-After`` passed on) or 502."""
    if isinstance(error, PermissionDeniedError):
        return Forbidden("CustomerInsightsRoleForbids",
                         "Your Customer Insights role does not allow this; ask an admin of the instance.")
    if isinstance(error, NotFoundError):
        return NotFound("NotFound", "Customer Insights found no such resource.")
    if isinstance(error, BadRequestError):
        return InvalidInput("BadRequest", f"Customer Insights rejected the request: {_ci_text(error)}")
    if isinstance(error, ThrottledError):
        headers = {}
        if error.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
        return Throttled("Throttled", "Customer Insights is throttling requests; retry later.", headers=headers)
    if isinstance(error, AuthenticationError):
        return UpstreamError("UpstreamAuthenticationFailed",
                             "The connector backend could not authenticate to Customer Insights.")
    return UpstreamError("UpstreamError", "Customer Insights failed or did not answer in time.")


def _ci_text(error: CustomerInsightsError) -> str:
    """CI's own explanation without our request path: the text after 'CI answered NNN on ...: '."""
    _, sep, detail = error.message.partition(": ")
    return (detail if sep else "invalid request.")[:300]
