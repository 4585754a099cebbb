"""Keeping callback-URL secrets out of logs.

A callback URL is a bearer secret (its ``sig`` query value signs it) and function URLs carry
``code``. :func:`redact_url` replaces the values of ``sig``, ``code`` and of any query key
containing ``sig``, ``token``, ``key`` or ``secret`` (case-insensitive) with ``REDACTED``, and
``user:password@`` credentials with ``REDACTED@``. :class:`RedactingFilter` applies it to log
records (message and formatted exception); attach it to the log *handlers*, because logger
filters do not see records propagated from child loggers. :func:`quiet_http_loggers` stops
urllib3 and requests from logging full request URLs at DEBUG.
"""
from __future__ import annotations

import logging
import re
from urllib.parse import unquote

REDACTED = "REDACTED"
SENSITIVE_KEYS = frozenset({"sig", "code"})
SENSITIVE_KEY_PARTS = ("sig", "token", "key", "secret")
HTTP_CLIENT_LOGGERS = ("urllib3", "requests")

_QUERY_PAIR = re.compile(r"(?P<lead>[?&](?P<key>[^=&#\s?]+)=)(?P<value>[^&#\s\"'<>(),;]*)")
_USERINFO = re.compile(r"(?P<lead>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#@\s]+@")


def is_sensitive_key(key: str) -> bool:
    """Whether a query key's value is a secret."""
    name = unquote(key).lower()
    return name in SENSITIVE_KEYS or any(part in name for part in SENSITIVE_KEY_PARTS)


def redact_url(text: str) -> str:
    """``text`` (a URL, or any text containing URLs) with secret query values and credentials redacted."""
    text = _USERINFO.sub(lambda m: f"{m['lead']}{REDACTED}@", text)
    return _QUERY_PAIR.sub(
        lambda m: f"{m['lead']}{REDACTED}" if is_sensitive_key(m["key"]) and m["value"] else m[0], text)


class RedactingFilter(logging.Filter):
    """Redacts secrets in each record's message and exception text; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_url(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_url(record.exc_text)
        return True


def quiet_http_loggers() -> None:
    """Set the urllib3 and requests loggers to WARNING (at DEBUG they log full URLs)."""
    for name in HTTP_CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def install(logger: logging.Logger | None = None) -> None:
    """Attach a :class:`RedactingFilter` to every handler of ``logger`` (default: the root logger,
    where the Functions worker's handlers sit) and quiet the HTTP client loggers. Idempotent."""
    quiet_http_loggers()
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
