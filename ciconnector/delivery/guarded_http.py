"""A requests session that connects only to addresses a policy allows (SSRF guard).

The check runs when the socket is opened, on the very address connected to, so a DNS answer
that changes between validation and connection (rebinding) cannot reach a private address.
"""
from __future__ import annotations

import ipaddress
import socket
from typing import Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

AddressPolicy = Callable[[str, int, ipaddress.IPv4Address | ipaddress.IPv6Address], bool]
"""``(host, port, address) -> allowed``."""


class BlockedAddressError(OSError):
    """Every address the host resolves to is forbidden by the policy."""


def _guarded_connection(base: type[HTTPConnection], policy: AddressPolicy) -> type[HTTPConnection]:
    class GuardedConnection(base):  # type: ignore[misc, valid-type]
        def _new_conn(self) -> socket.socket:
            host, port = self._dns_host, self.port
            try:
                infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise NewConnectionError(self, f"cannot resolve {host}: {exc}") from exc
            last: Exception | None = None
            blocked = 0
            for family, socktype, proto, _, sockaddr in infos:
                address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
                if not policy(host, port, address):
                    blocked += 1
                    continue
                sock = socket.socket(family, socktype, proto)
                try:
                    for option in self.socket_options or ():  # urllib3's default turns Nagle off
                        sock.setsockopt(*option)
                    sock.settimeout(self.timeout if isinstance(self.timeout, (int, float)) else None)
                    sock.connect(sockaddr)
                    return sock
                except socket.timeout as exc:
                    sock.close()
                    raise ConnectTimeoutError(self, f"connection to {host} timed out") from exc
                except OSError as exc:
                    sock.close()
                    last = exc
            if blocked and last is None:
                raise NewConnectionError(self, f"{host} resolves only to forbidden addresses") \
                    from BlockedAddressError(host)
            raise NewConnectionError(self, f"cannot connect to {host}: {last}") from last

    return GuardedConnection


class GuardedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections obey an :data:`AddressPolicy`."""

    def __init__(self, policy: AddressPolicy, **kwargs):
        self._policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        https = type("GuardedHTTPSPool", (HTTPSConnectionPool,),
                     {"ConnectionCls": _guarded_connection(HTTPSConnection, self._policy)})
        http = type("GuardedHTTPPool", (HTTPConnectionPool,),
                    {"ConnectionCls": _guarded_connection(HTTPConnection, self._policy)})
        self.poolmanager.pool_classes_by_scheme = {"http": http, "https": https}


def guarded_session(policy: AddressPolicy, *, pool_size: int = 32, ca_bundle: str | None = None) -> requests.Session:
    """A session for callback POSTs: guarded connections, no proxies from the environment."""
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedAdapter(policy, pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if ca_bundle:
        session.verify = ca_bundle
    return session
