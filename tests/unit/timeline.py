"""A fixed timeline for the detection tests: ``at(minutes)`` after ``T0`` and CI's text form of it."""
from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stamp(minutes: float) -> str:
    return at(minutes).isoformat().replace("+00:00", "Z")
