"""Per-instance watch state: what the poller has already seen on one CI instance.

It holds, per data source, the last ``lastRefresh`` / ``refreshState`` pair and how many refresh
outcomes were reported; the keys of the completed runs already reported (full-refresh job ids and
``merge:<jobId>`` unification keys, newest last, at most :data:`MAX_REPORTED`) with a horizon
timestamp below which an unknown run counts as already seen; and when data sources and jobs were
last observed. Threshold subscriptions keep their own state (:mod:`.thresholds`).

Serialized as compact JSON (:meth:`WatchState.to_text`): at most about 21 KiB for 100 data sources and
200 reported runs, well under the 64 KiB of a Table Storage string property.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from .events import iso, utc

MAX_REPORTED = 200
"""Reported run keys kept; older ones are summarised by :attr:`WatchState.horizon`."""


class WatchStateError(ValueError):
    """A stored watch state cannot be read (the adapter starts over with an empty state)."""


@dataclass(frozen=True)
class DataSourceMark:
    """The last observation of one data source.

    Attributes:
        last_refresh: ``lastRefresh`` as ISO 8601 UTC text, or None.
        refresh_state: ``refreshState``, or None.
        outcomes: refresh outcomes reported so far (numbers the events).
    """

    last_refresh: str | None
    refresh_state: str | None
    outcomes: int = 0


@dataclass(frozen=True)
class ReportedRun:
    """A completed run already reported (or seeded): its key and when it ended."""

    key: str
    ended_at: datetime | None


@dataclass(frozen=True)
class WatchState:
    """What was already seen on one instance (empty = nothing observed yet).

    Attributes:
        data_sources: mark per data source id.
        data_sources_observed_at: poll time of the last successful data source observation.
        reported: completed runs already reported, oldest first.
        horizon: runs that ended at or before this time count as reported.
        jobs_observed_at: poll time of the last successful jobs observation.
    """

    data_sources: Mapping[str, DataSourceMark] = field(default_factory=dict)
    data_sources_observed_at: datetime | None = None
    reported: tuple[ReportedRun, ...] = ()
    horizon: datetime | None = None
    jobs_observed_at: datetime | None = None

    def is_reported(self, key: str, ended_at: datetime | None) -> bool:
        """Whether the run ``key`` was already reported (or is older than the horizon)."""
        if self.horizon is not None and ended_at is not None and utc(ended_at) <= self.horizon:
            return True
        return any(run.key == key for run in self.reported)

    def with_reported(self, runs: Iterable[ReportedRun]) -> "WatchState":
        """The state with ``runs`` appended, keeping the newest :data:`MAX_REPORTED`."""
        reported = (*self.reported, *runs)
        evicted, kept = reported[:-MAX_REPORTED], reported[-MAX_REPORTED:]
        horizon = max([utc(r.ended_at) for r in evicted if r.ended_at] + ([self.horizon] if self.horizon else []),
                      default=None)
        return replace(self, reported=kept, horizon=horizon)

    def to_text(self) -> str:
        """Compact JSON text for storage."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of :meth:`to_text` (for a container that encodes it once, with more)."""
        return {
            "v": 1,
            "ds": {k: [m.last_refresh, m.refresh_state, m.outcomes] for k, m in self.data_sources.items()},
            "dsAt": _text(self.data_sources_observed_at),
            "runs": [[r.key, _millis(r.ended_at)] for r in self.reported],
            "horizon": _millis(self.horizon),
            "jobsAt": _text(self.jobs_observed_at),
        }

    @classmethod
    def from_text(cls, text: str) -> "WatchState":
        """Read :meth:`to_text` output; raises :class:`WatchStateError` when unreadable."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise WatchStateError(f"unreadable watch state: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> "WatchState":
        """Read :meth:`to_dict` output; raises :class:`WatchStateError` when unreadable."""
        try:
            if data.get("v") != 1:
                raise ValueError(f"unknown version {data.get('v')!r}")
            return cls(
                data_sources={str(k): DataSourceMark(_opt_str(m[0]), _opt_str(m[1]), _count(m[2]))
                              for k, m in data["ds"].items()},
                data_sources_observed_at=_moment(data["dsAt"]),
                reported=tuple(ReportedRun(str(key), _from_millis(ms)) for key, ms in data["runs"]),
                horizon=_from_millis(data["horizon"]),
                jobs_observed_at=_moment(data["jobsAt"]),
            )
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise WatchStateError(f"unreadable watch state: {exc}") from None


def _text(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


def _moment(value: Any) -> datetime | None:
    return None if value is None else utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else round(utc(moment).timestamp() * 1000)


def _from_millis(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("timestamp must be integer milliseconds")
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc)


def _opt_str(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError("expected a non-negative integer")
    return value
