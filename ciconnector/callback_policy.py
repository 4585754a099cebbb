"""The callback address policy: which addresses a callback may reach, and the dev-only allowlist.

A low module (standard library only) so that settings (which parses the allowlist), the subscribe
rule (``ciconnector.trigger_kinds.callback``) and the delivery sender's connect-time guard all read one
policy without importing upwards.
"""
from __future__ import annotations

import ipaddress
from typing import Iterable
from urllib.parse import urlsplit

ALLOWED_HOSTS_SETTING = "CALLBACK_ALLOWED_HOSTS"
DEFAULT_HTTPS_PORT = 443

_BLOCKED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4",
    "fc00::/7", "fe80::/10", "fec0::/10", "2001:db8::/32"))
"""Blocked whatever this Python's ``ipaddress`` tables say (they changed across patch releases)."""


def parse_allowed_hosts(raw: str) -> tuple[str, ...]:
    """The allowlist from the comma-separated setting value; ValueError names a malformed entry."""
    entries = tuple(e.strip().lower() for e in raw.split(",") if e.strip())
    for entry in entries:
        _host_and_port(entry)
    return entries


def is_blocked_address(address: str) -> bool:
    """Whether an IP address is not a public unicast address a callback may point to."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    return (not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
            or ip.is_unspecified or ip.is_reserved or any(ip in network for network in _BLOCKED_NETWORKS))


def _host_and_port(entry: str) -> tuple[str, int | None]:
    problem = ValueError(f"{ALLOWED_HOSTS_SETTING}: malformed entry {entry!r}; expected host or host:port")
    try:
        parts = urlsplit(f"//{entry}")
        host, port = parts.hostname, parts.port
    except ValueError:
        raise problem from None
    if not host or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise problem
    return host, port


def is_allowed_host(allowed_hosts: Iterable[str], host: str, port: int) -> bool:
    """Whether ``host:port`` is on the dev-only allowlist (entries ``host`` or ``host:port``)."""
    for entry in allowed_hosts:
        allowed_host, allowed_port = _host_and_port(entry.strip().lower())
        if allowed_host == host.lower() and allowed_port in (None, port):
            return True
    return False
