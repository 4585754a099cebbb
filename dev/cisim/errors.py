"""Exceptions raised by handlers and rendered by the server."""
from __future__ import annotations


class CIError(Exception):
    """A CI API error, rendered as ``ApiErrorResult`` or ``ODataError`` depending on the route."""

    def __init__(self, status: int, error_code: str, message: str, culprit: str = "user") -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.culprit = culprit


class ControlError(Exception):
    """A control API error, rendered as ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
