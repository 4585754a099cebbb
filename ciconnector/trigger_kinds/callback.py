"""The callback URL rule: which URLs a subscription may ask us to POST events to.

A callback URL must be https, at most 2 KiB, without ``user:password@`` credentials, and its host
must not be (or resolve to) a loopback, private, link-local, multicast, unspecified, reserved,
site-local or shared (100.64.0.0/10) address; IPv4-mapped and 6to4 IPv6 addresses are judged by
the IPv4 address they carry. Hosts of the dev-only allowlist (app setting
``CALLBACK_ALLOWED_HOSTS``, e.g. ``127.0.0.1:8443``) skip the address check, nothing else.

Delivery re-checks at connect time, on the very address it connects to (closing the
DNS-rebinding window), and follows no redirects (``ciconnector/delivery/guarded_http.py``). Error messages name the host
only: the URL itself is a bearer secret.

The address policy itself (blocked networks, the dev allowlist) is ``ciconnector.callback_policy``,
a low module that settings and the delivery sender import too.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import urlsplit

from ciconnector.callback_policy import DEFAULT_HTTPS_PORT, is_allowed_host, is_blocked_address, parse_allowed_hosts
from ciconnector.errors import InvalidInput
from ciconnector.operations import Param

MAX_CALLBACK_URL_BYTES = 2048
CALLBACK_URL_FIELD = "callbackUrl"

Resolver = Callable[..., Sequence[tuple[Any, ...]]]
"""``socket.getaddrinfo``-compatible: ``(host, port, type=...)`` → ``[(family, type, proto, name, sockaddr)]``."""

_WHITESPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


class CallbackUrlError(InvalidInput):
    """The callback URL breaks the rule; ``field`` is always ``callbackUrl``."""

    def __init__(self, code: str, message: str):
        super().__init__(code, message, field=CALLBACK_URL_FIELD)


@dataclass(frozen=True)
class CheckedCallback:
    """A callback URL that passed the rule.

    Attributes:
        url: the URL, unchanged.
        host: its host name or IP literal, lower case, without brackets.
        port: its port (443 by default).
        addresses: the checked addresses the host resolved to; empty for allowlisted hosts.
    """

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def check_callback_url(url: Any, *, allowed_hosts: Iterable[str] = (),
                       resolver: Resolver = socket.getaddrinfo) -> CheckedCallback:
    """Apply the callback URL rule; raises :class:`CallbackUrlError`."""
    host, port = _host_of(url)
    if is_allowed_host(allowed_hosts, host, port):
        return CheckedCallback(url, host, port, ())
    addresses = _addresses(host, port, resolver)
    blocked = [a for a in addresses if is_blocked_address(a)]
    if blocked:
        raise CallbackUrlError("CallbackHostNotAllowed",
                               f"The callback host '{host}' resolves to a non-public address ({blocked[0]}).")
    return CheckedCallback(url, host, port, addresses)


def callback_url_syntax(url: Any) -> str:
    """``url`` when it passes the part of the rule that needs no name resolution (the subscribe
    body's validation rule); :func:`check_callback_url` adds the address check."""
    _host_of(url)
    return url


def _host_of(url: Any) -> tuple[str, int]:
    """The host and port of a syntactically acceptable callback URL."""
    if not isinstance(url, str) or not url:
        raise CallbackUrlError("MissingCallbackUrl", "The callback URL is required.")
    try:
        size = len(url.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: not text any HTTP client can send
        raise CallbackUrlError("InvalidCallbackUrl", "The callback URL is not valid Unicode.") from None
    if size > MAX_CALLBACK_URL_BYTES:
        raise CallbackUrlError("CallbackUrlTooLong",
                               f"The callback URL must be at most {MAX_CALLBACK_URL_BYTES} bytes.")
    if _WHITESPACE_OR_CONTROL.search(url):
        raise CallbackUrlError("InvalidCallbackUrl", "The callback URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = DEFAULT_HTTPS_PORT if parts.port is None else parts.port
    except ValueError:
        raise CallbackUrlError("InvalidCallbackUrl", "The callback URL is not a valid URL.") from None
    if port == 0:  # urlsplit accepts it; no server listens there and a connect would pick any port
        raise CallbackUrlError("InvalidCallbackUrl", "The callback URL's port must be between 1 and 65535.")
    if parts.scheme.lower() != "https":
        raise CallbackUrlError("CallbackUrlNotHttps", "The callback URL must use https.")
    if "@" in parts.netloc:
        raise CallbackUrlError("CallbackUrlHasCredentials", "The callback URL must not contain user credentials.")
    host = parts.hostname
    if not host:
        raise CallbackUrlError("InvalidCallbackUrl", "The callback URL has no host.")
    return host, port


CALLBACK_URL = Param(CALLBACK_URL_FIELD, "field", "string", "Callback URL",
                     "The URL the flow is started with; set by the platform.", required=True, visibility="internal",
                     notification_url=True, rule=callback_url_syntax)
"""The callback URL field of every subscribe body."""


def _addresses(host: str, port: int, resolver: Resolver) -> tuple[str, ...]:
    try:
        ipaddress.ip_address(host)
        return (host,)
    except ValueError:
        pass
    try:
        answers = resolver(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        answers = []
    addresses = tuple(dict.fromkeys(str(answer[4][0]) for answer in answers))
    if not addresses:
        raise CallbackUrlError("CallbackHostUnresolvable", f"The callback host '{host}' cannot be resolved.")
    return addresses


__all__ = ["CALLBACK_URL", "CALLBACK_URL_FIELD", "CallbackUrlError", "CheckedCallback", "check_callback_url",
           "is_allowed_host", "is_blocked_address", "parse_allowed_hosts"]
