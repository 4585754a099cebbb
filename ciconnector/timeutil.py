"""Time helpers every layer uses: aware UTC datetimes and their ISO 8601 text.

A leaf module (standard library only), so storage, delivery, triggers and actions can share it
without importing each other.
"""
from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    """The current time as an aware UTC datetime (the default clock of services and stores)."""
    return datetime.now(timezone.utc)


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (naive values are taken as UTC)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC text, ``Z`` suffixed."""
    return utc(moment).isoformat().replace("+00:00", "Z")
