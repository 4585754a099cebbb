"""The principal the current request acts for, set by the one HTTP wrapper (``actions/responses.py``).

A context variable rather than a handler argument: the wrapper authenticates every operation
before its handler runs, and only code that calls CI on the user's behalf needs to ask who it is.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from .principal import Principal

_current: ContextVar[Principal | None] = ContextVar("ciconnector_caller", default=None)


def current() -> Principal | None:
    """The authenticated user of this request; None in function-key mode."""
    return _current.get()


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    """Run the block as ``principal`` (restored afterwards, so a worker thread never leaks one)."""
    token = _current.set(principal)
    try:
        yield
    finally:
        _current.reset(token)
