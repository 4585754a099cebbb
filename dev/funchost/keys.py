"""Function and master keys and the authorization level a request earns with them."""
from __future__ import annotations

import enum
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Mapping, Protocol

FUNCTION_KEY_SETTING = "FUNCHOST_FUNCTION_KEY"
MASTER_KEY_SETTING = "FUNCHOST_MASTER_KEY"
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"


class AuthLevel(enum.IntEnum):
    """Authorization levels, ordered so that a higher level satisfies a lower one."""

    ANONYMOUS = 0
    FUNCTION = 1
    ADMIN = 2

    @classmethod
    def parse(cls, value: object) -> "AuthLevel":
        """``AuthLevel`` from a decorator value (enum or string, any case); default FUNCTION."""
        text = str(getattr(value, "value", value) or "function").lower()
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown authLevel '{value}'") from None


@dataclass(frozen=True)
class Keys:
    """One host-level function key (valid for every function) and the master key."""

    function_key: str = field(repr=False)
    master_key: str = field(repr=False)

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> "Keys":
        """Keys from app settings, each generated at random when unset."""
        return cls(
            function_key=settings.get(FUNCTION_KEY_SETTING) or secrets.token_urlsafe(32),
            master_key=settings.get(MASTER_KEY_SETTING) or secrets.token_urlsafe(32),
        )

    def level_of(self, key: str | None) -> AuthLevel:
        """The level a presented key grants (ANONYMOUS when missing or unknown)."""
        if not key:
            return AuthLevel.ANONYMOUS
        if hmac.compare_digest(key.encode(), self.master_key.encode()):
            return AuthLevel.ADMIN
        if hmac.compare_digest(key.encode(), self.function_key.encode()):
            return AuthLevel.FUNCTION
        return AuthLevel.ANONYMOUS


class _Lookup(Protocol):
    def get(self, key: str, /) -> str | None: ...


def presented_key(headers: _Lookup, query: _Lookup) -> str | None:
    """The key of a request: the ``x-functions-key`` header, else the ``code`` query parameter."""
    return headers.get(KEY_HEADER) or query.get(KEY_QUERY) or None
