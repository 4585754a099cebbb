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


class Unauthenticated(ConnectorError):
    """The request carries no acceptable access token (Entra mode); ``WWW-Authenticate`` says so."""

    status = 401

    def __init__(self, code: str, message: str):
        super().__init__(code, message, headers={
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{message}"'})


class Forbidden(ConnectorError):
    """The caller is known but may not do this: a missing scope or app role, or a CI role too low."""

    status = 403


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


STORAGE_RETRY_AFTER_SECONDS = 10
"""What a caller is told to wait when state storage fails (a brief outage heals within it)."""


class RecordNotFound(NotFound, LookupError):
    """A stored record does not exist: the one way every store says "not found".

    Each store raises its own subclass (``SubscriptionNotFoundError``, …) carrying the code and
    field an HTTP answer names; it is also a ``LookupError``, as a missing key is one.
    """


class ConcurrentChange(Conflict):
    """A conditional write lost the race: the record changed or vanished since it was read, or
    another worker holds its lease. The one way every store says "someone else got there first"."""

    def __init__(self, what: str):
        super().__init__("ConcurrentChange", f"{what} was changed concurrently; retry.")


class StorageUnavailable(Unavailable):
    """State storage failed or did not answer (every azure-core error that is not a not-found or a
    lost race, mapped by :mod:`ciconnector.storage.azure_errors`)."""

    def __init__(self) -> None:
        super().__init__("StorageUnavailable", "State storage is unavailable; retry later.",
                         headers={"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)})
