"""What an instance's watch row keeps for the poller (``State``, one JSON object encoded once).

* ``jobs``: the :class:`~ciconnector.trigger_kinds.JobCursor` over CI's job history;
* ``subjects``: the last value seen of every segment / measure a threshold subscription watches;
  a poll whose values all equal these (and whose job history shows nothing new) is idle: it reads
  no subscription and no threshold state, and writes one row;
* ``generation``: the instance's subscription generation (the ``0subs`` row) when the poller last
  read the subscriptions, with the CI lists their kinds need (``resources``); a subscribe,
  unsubscribe, disable or enable changes the generation, so the next poll reads them again;
* ``activity``: the last poll and the CI calls of the last hour, for the admin console.

Threshold subscriptions keep their own state in their own rows (``2t:<id>``), so no entity grows
with the number of subscriptions.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from ..timeutil import iso, utc
from ..trigger_kinds import JobCursor
from ..trigger_kinds.events import Number

logger = logging.getLogger(__name__)

BUCKET = timedelta(minutes=5)
BUCKETS_KEPT = 12
"""CI call counts are kept in 5-minute buckets for the last hour."""


@dataclass(frozen=True)
class PollState:
    """The poller's view of one instance (see the module docstring)."""

    jobs: JobCursor = field(default_factory=JobCursor)
    subjects: Mapping[str, Number] = field(default_factory=dict)
    generation: str = ""
    resources: tuple[str, ...] = ()
    activity: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"v": 2, "jobs": self.jobs.to_dict(), "subjects": dict(self.subjects), "generation": self.generation,
                "resources": list(self.resources), "activity": dict(self.activity)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], instance_id: str) -> "PollState":
        """Read stored state; unreadable state starts afresh (the next poll reads the subscriptions
        again and the job history from their creation)."""
        if not data:
            return cls()
        try:
            if data.get("v") != 2:
                raise ValueError(f"unknown version {data.get('v')!r}")
            subjects = {str(k): v for k, v in dict(data.get("subjects") or {}).items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)}
            return cls(JobCursor.from_dict(data.get("jobs") or {}), subjects, str(data.get("generation") or ""),
                       tuple(str(r) for r in data.get("resources") or ()), dict(data.get("activity") or {}))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.warning("watch state of instance %s is unreadable (%s); starting afresh", instance_id, exc)
            return cls()

    def with_activity(self, *, now: datetime, fetched: Sequence[str], failed: Sequence[str], deliveries: int,
                      calls: int, failures: int) -> "PollState":
        """The state with this poll recorded (what the console shows: last poll, CI calls per hour)."""
        now = utc(now)
        start = now - timedelta(seconds=now.timestamp() % BUCKET.total_seconds())
        buckets = {k: v for k, v in dict(self.activity.get("calls") or {}).items()
                   if isinstance(v, list) and len(v) == 2}
        current = buckets.get(iso(start), [0, 0])
        buckets[iso(start)] = [int(current[0]) + calls, int(current[1]) + failures]
        kept = dict(sorted(buckets.items())[-BUCKETS_KEPT:])
        complete = not failed
        activity = {"at": iso(now), "fetched": list(fetched), "failed": list(failed), "deliveries": deliveries,
                    "committed": True, "completeAt": iso(now) if complete else self.activity.get("completeAt"),
                    "calls": kept}
        return replace(self, activity=activity)
