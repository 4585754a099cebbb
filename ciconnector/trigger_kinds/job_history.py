"""The durable cursor over an instance's workflow job history, and reading CI back to it.

Every refresh CI runs is a workflow job with its tasks (one ingestion task per data source
refreshed, map / match / merge, segmentation, measures), each with its own id, status, times and
errors. Outcomes are read from that history, not from snapshots of current state, so two refreshes
between two polls are two events, and a poll that could not run for an hour catches up.

The cursor says how far back the next poll must read:

* :attr:`JobCursor.floor`: the submission time of the oldest job that was not terminal at the last
  poll (its outcomes may still come), or, when every job read was terminal, of the newest job read
  (less a small margin).
  Jobs submitted at or after the floor are read again; older ones are finished and reported.
* :attr:`JobCursor.reported`: what was already reported among the jobs at or after the floor (so
  a job read again is not reported again): one ``done:<jobId>`` per finished job, the outcome keys
  of a job still running. Its size grows with the jobs since the floor (at most
  :data:`MAX_JOBS_READ`, about 45 characters each), never with their tasks.

CI's jobs list has only ``top`` (newest first, no paging), so :func:`read_back` asks for more jobs
until the oldest one returned is older than the floor, doubling ``top`` up to
:data:`MAX_JOBS_READ`. When CI cannot be read back that far (more jobs than that since the floor,
or CI no longer returns them), the poll does not stay silent: it records a :class:`Gap` that the
admin console and health show, and moves on. A job still not terminal after :data:`STUCK_AFTER`
stops holding the floor back (also a gap), so one stuck job cannot make every poll read more.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Sequence

from ciconnector.customer_insights.models import Job

from .events import iso, utc

FIRST_READ = 25
"""Jobs asked for by an instance's first read (and the least any read asks for)."""
MAX_JOBS_READ = 1000
"""The most jobs one poll asks CI for; beyond that, a :class:`Gap` is recorded."""
FIRST_POLL_LOOKBACK = timedelta(hours=6)
"""An instance's first poll reads jobs submitted this long before its oldest subscription was
created: a refresh that started before the subscription and ended after it is the subscription's."""
FLOOR_MARGIN = timedelta(minutes=5)
"""With no job running, the floor stays this far below the newest job read: a job CI lists late
(submitted just before one already seen) is still read."""
STUCK_AFTER = timedelta(hours=24)
"""A job still running this long after submission no longer holds the floor back."""
MAX_GAPS = 10
"""Gaps kept on the cursor (newest last)."""


@dataclass(frozen=True)
class Gap:
    """A stretch of job history the poller could not read back: outcomes in it may be missing."""

    noticed_at: datetime
    since: datetime | None
    until: datetime | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"noticedAt": iso(self.noticed_at), "since": _text(self.since), "until": _text(self.until),
                "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Any) -> "Gap":
        return cls(_moment(data["noticedAt"]) or _epoch(), _moment(data.get("since")), _moment(data.get("until")),
                   str(data.get("reason", "")))


@dataclass(frozen=True)
class JobCursor:
    """How far back the next poll reads the job history, and what it already reported there.

    ``floor`` None means the instance was never read: the first poll starts from its subscriptions'
    creation (see :data:`FIRST_POLL_LOOKBACK`). ``top`` is how many jobs the last read needed, where the
    next read starts.
    """

    floor: datetime | None = None
    reported: frozenset[str] = frozenset()
    top: int = FIRST_READ
    gaps: tuple[Gap, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"floor": _text(self.floor), "reported": sorted(self.reported), "top": self.top,
                "gaps": [g.to_dict() for g in self.gaps]}

    @classmethod
    def from_dict(cls, data: Any) -> "JobCursor":
        """Read :meth:`to_dict` output; raises ValueError (or TypeError/KeyError) when unreadable."""
        if not isinstance(data, dict):
            raise ValueError("job cursor is not an object")
        reported = data.get("reported") or []
        if not all(isinstance(k, str) for k in reported):
            raise ValueError("job cursor keys must be strings")
        top = data.get("top", FIRST_READ)
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise ValueError("job cursor top must be a positive integer")
        return cls(_moment(data.get("floor")), frozenset(reported), min(top, MAX_JOBS_READ),
                   tuple(Gap.from_dict(g) for g in data.get("gaps") or ()))


@dataclass(frozen=True)
class JobsRead:
    """What :func:`read_back` got: the jobs at or after ``floor`` (newest first, as CI lists them),
    how many were asked for, and the gap when CI could not be read back to the floor."""

    jobs: tuple[Job, ...]
    floor: datetime
    top: int
    calls: int
    gap: Gap | None = None


def start_floor(cursor: JobCursor, created: Iterable[datetime]) -> datetime | None:
    """Where a read starts: the cursor's floor, or for a first read the oldest subscription's
    creation minus :data:`FIRST_POLL_LOOKBACK` (None when there is no subscription to date it by)."""
    if cursor.floor is not None:
        return cursor.floor
    oldest = min((utc(c) for c in created), default=None)
    return None if oldest is None else oldest - FIRST_POLL_LOOKBACK


def read_back(fetch: Callable[[int], Sequence[Job]], cursor: JobCursor, floor: datetime, *,
              now: datetime) -> JobsRead:
    """Read the job history back to ``floor``: ``fetch(top)`` returns CI's newest ``top`` jobs.

    Asks again with twice the ``top`` while every job returned is at or after the floor and CI
    returned as many as asked (there may be more), up to :data:`MAX_JOBS_READ`. Errors of ``fetch``
    propagate (the poll then keeps its cursor).
    """
    top, calls = max(cursor.top, FIRST_READ), 0
    while True:
        jobs = list(fetch(top))
        calls += 1
        oldest = min((utc(j.submitted_at) for j in jobs if j.submitted_at), default=None)
        reached = oldest is not None and oldest < floor
        exhausted = len(jobs) < top
        if reached or exhausted or top >= MAX_JOBS_READ:
            break
        top = min(top * 2, MAX_JOBS_READ)
    gap = None
    # CI listing fewer jobs than asked, none older than the floor, is a gap only when even the job the
    # floor was set by is gone (a young instance lists all its jobs, every one at or after the floor)
    lost = not exhausted or oldest is None or oldest > floor + FLOOR_MARGIN
    if not reached and jobs and cursor.floor is not None and lost:
        reason = (f"more than {MAX_JOBS_READ} jobs were submitted since the last poll" if not exhausted
                  else "CI no longer lists jobs submitted since the last poll")
        gap = Gap(utc(now), floor, oldest, reason)
    window = tuple(j for j in jobs if j.submitted_at is None or utc(j.submitted_at) >= floor)
    # the next read starts with what this one needed (a little more, for new jobs), never below the minimum
    needed = max(FIRST_READ, min(MAX_JOBS_READ, len(window) + FIRST_READ))
    return JobsRead(window, floor, needed, calls, gap)


def advance(cursor: JobCursor, read: JobsRead, keys: Iterable[tuple[Job, str]], *, now: datetime) -> JobCursor:
    """The cursor after this poll reported every outcome in ``read`` (``keys``: each outcome's job and
    key, reported now or before).

    The new floor is the submission of the oldest job still running (or, when none is, of the newest
    job read, less :data:`FLOOR_MARGIN`); a job running for longer than :data:`STUCK_AFTER` is left
    behind with a gap.
    """
    now = utc(now)
    gaps = list(cursor.gaps) + ([read.gap] if read.gap else [])
    running = [(j, utc(j.submitted_at)) for j in read.jobs if not j.is_terminal and j.submitted_at is not None]
    holding = [submitted_at for _, submitted_at in running if now - submitted_at <= STUCK_AFTER]
    submitted = [utc(j.submitted_at) for j in read.jobs if j.submitted_at is not None]
    if holding:
        floor = min(holding)
    elif submitted:
        floor = max(max(submitted) - FLOOR_MARGIN, read.floor)
    else:
        floor = read.floor
    for job, submitted_at in running:
        # recorded once, when the floor moves past it: no later read sees it (a stuck job among the
        # newest stays read, and reported if it ends, until a newer job moves the floor past it)
        if submitted_at < floor and now - submitted_at > STUCK_AFTER:
            gaps.append(Gap(now, submitted_at, None, f"job {job.job_id} has been running for more than "
                                                     f"{STUCK_AFTER}; its later outcomes are not reported"))
    kept = frozenset(key for job, key in keys
                     if job.submitted_at is None or utc(job.submitted_at) >= floor)
    return replace(cursor, floor=floor, reported=kept, top=read.top, gaps=tuple(gaps[-MAX_GAPS:]))


def _text(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    return utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _epoch() -> datetime:
    return utc(datetime.fromtimestamp(0))


__all__ = ["FIRST_POLL_LOOKBACK", "FIRST_READ", "FLOOR_MARGIN", "MAX_JOBS_READ", "STUCK_AFTER", "Gap", "JobCursor",
           "JobsRead", "advance", "read_back", "start_floor"]
