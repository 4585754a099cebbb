"""The connector's error contract: every failure a caller can see is a :class:`ConnectorError`.

Validators, services and the CI error mapping raise these; one table
(:func:`ciconnector.operations.answers.error_answer`) turns any exception into the HTTP answer, so a
status, an error code and the ``{code, message, field?}`` body are decided in exactly one place.
"""
from __future__ import annotations

from typing import ClassVar, Mapping


class ConnectorError(Exception):
    """A failure answered with ``status`` and the JSON body :meth:`to_dict`.

    Attributes:
        status: HTTP status (fixed per subclass).
        code: stable PascalCase error code, e.g. ``MissingParameter``.
        message: English sentence for the flow maker; never a stack trace, URL secret or credential.
        field: the offending input (parameter, body field or ``body``), when there is one.
        headers: extra response headers, e.g. ``Retry-After``.
    """

    status: ClassVar[int] = 500

    def __init__(self, code: str, message: str, *, field: str | None = None,
                 headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def to_dict(self) -> dict[str, str]:
        """The ``{code, message, field?}`` body."""
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class InvalidInput(ConnectorError):
    """A request input is missing or malformed, or names something that cannot be used."""

    status = 400


class NotFound(ConnectorError):
    """The resource the request names does not exist (or is outside the instance allowlist)."""

    status = 404


class Conflict(ConnectorError):
    """The request lost a race with a concurrent change of the same resource."""

    status = 409


class PayloadTooLarge(ConnectorError):
    """The request body is over the operation's size limit."""

    status = 413


class Throttled(ConnectorError):
    """An upstream service throttles us; ``Retry-After`` says when to come back."""

    status = 429


class UpstreamError(ConnectorError):
    """Customer Insights failed, timed out or refused our credentials."""

    status = 502


class Unavailable(ConnectorError):
    """A dependency of ours (state storage) is unavailable; ``Retry-After`` says when to retry."""

    status = 503
