"""Timer triggers: NCRONTAB schedules, the schedule monitor (past due) and one scheduler thread per timer."""
from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from croniter import croniter

from .bindings import TriggerInput, timer_input
from .errors import HostError
from .functions import FunctionSpec
from .invocation import InvocationResult

log = logging.getLogger("funchost.timers")
FIELDS = ("second", "minute", "hour", "day", "month", "day-of-week")
_NUMERIC_FIELD = re.compile(r"^[\d*/,\-]+$")
_NAMED_FIELD = re.compile(r"^(?:[\d*/,\-]|(?<![A-Za-z])[A-Za-z]{3}(?![A-Za-z]))+$")
NEVER = datetime.min.replace(tzinfo=timezone.utc)

TimerRunner = Callable[[FunctionSpec, TriggerInput, str], InvocationResult]


class NcrontabSchedule:
    """A six-field NCRONTAB expression ``{second} {minute} {hour} {day} {month} {day-of-week}`` in UTC.

    As in NCrontab, day-of-month and day-of-week must both match (croniter ``day_or=False``).
    """

    def __init__(self, expression: str, what: str) -> None:
        self.expression = expression.strip()
        fields = self.expression.split()
        problem = None
        if len(fields) != 6:
            problem = f"it has {len(fields)} fields, NCRONTAB needs six ({' '.join(FIELDS)})"
        else:
            for name, value in zip(FIELDS, fields, strict=True):
                pattern = _NAMED_FIELD if name in ("month", "day-of-week") else _NUMERIC_FIELD
                if not pattern.match(value):
                    problem = f"field {name} '{value}' is not valid"
                    break
            else:
                if not croniter.is_valid(self.expression, second_at_beginning=True):
                    problem = "a field is out of range"
        if problem:
            raise HostError(f"{what}: the schedule expression '{expression}' was not recognized as a valid "
                            f"NCRONTAB expression: {problem}")

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (UTC)."""
        iterator = croniter(self.expression, moment.astimezone(timezone.utc),
                            second_at_beginning=True, day_or=False)
        return iterator.get_next(datetime)

    def occurrences(self, moment: datetime, count: int) -> list[datetime]:
        """The next ``count`` occurrences after ``moment``."""
        result = []
        for _ in range(count):
            moment = self.next_after(moment)
            result.append(moment)
        return result

    def __str__(self) -> str:
        return f"Cron: '{self.expression}'"


@dataclass
class ScheduleStatus:
    """What the schedule monitor records per timer."""

    last: datetime
    next: datetime
    last_updated: datetime

    def to_json(self) -> dict[str, str]:
        """The JSON form (the real host's field names)."""
        return {"Last": self.last.isoformat(), "Next": self.next.isoformat(),
                "LastUpdated": self.last_updated.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> "ScheduleStatus":
        """Parse ``to_json`` output."""
        return cls(*(datetime.fromisoformat(data[key]).astimezone(timezone.utc)
                     for key in ("Last", "Next", "LastUpdated")))


class ScheduleMonitor:
    """Schedule status per timer in ``<directory>/<name>.json``, or in memory without a directory."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._memory: dict[str, ScheduleStatus] = {}

    def get(self, name: str) -> ScheduleStatus | None:
        """The recorded status of timer ``name``."""
        if self.directory is None:
            return self._memory.get(name)
        path = self.directory / f"{name}.json"
        try:
            return ScheduleStatus.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            log.warning("Ignoring unreadable schedule status %s", path)
            return None

    def update(self, name: str, status: ScheduleStatus) -> None:
        """Record the status of timer ``name``."""
        if self.directory is None:
            self._memory[name] = status
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"{name}.json").write_text(json.dumps(status.to_json()), encoding="utf-8")


def use_monitor(spec: FunctionSpec, schedule: NcrontabSchedule) -> bool:
    """``useMonitor`` of the trigger, else whether the schedule interval is at least one minute."""
    explicit = spec.trigger.data.get("useMonitor")
    if explicit is not None:
        return bool(explicit)
    first, second = schedule.occurrences(datetime.now(timezone.utc), 2)
    return second - first >= timedelta(minutes=1)


class TimerListener:
    """Runs one timer function on its schedule; invocations of one timer never overlap."""

    def __init__(self, spec: FunctionSpec, schedule: NcrontabSchedule, monitor: ScheduleMonitor | None,
                 run: TimerRunner) -> None:
        self.spec = spec
        self.schedule = schedule
        self.monitor = monitor
        self.run = run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.status = ScheduleStatus(NEVER, schedule.next_after(datetime.now(timezone.utc)), NEVER)

    def start(self) -> None:
        """Check for a past-due occurrence, then start the scheduler thread."""
        now = datetime.now(timezone.utc)
        past_due = False
        if self.monitor is not None:
            recorded = self.monitor.get(self.spec.name)
            if recorded is None:
                self.monitor.update(self.spec.name, self.status)
            else:
                expected = recorded.next  # the earlier of the recorded and the current schedule's
                if recorded.last != NEVER:
                    expected = min(expected, self.schedule.next_after(recorded.last))
                past_due = now > expected
                self.status = ScheduleStatus(recorded.last, self.schedule.next_after(now),
                                             recorded.last_updated)
        upcoming = ", ".join(o.isoformat() for o in self.schedule.occurrences(now, 5))
        log.info("The next 5 occurrences of the '%s' schedule (%s) will be: %s", self.spec.name,
                 self.schedule, upcoming)
        startup = "IsPastDue" if past_due else \
            "RunOnStartup" if self.spec.trigger.data.get("runOnStartup") else None
        self._thread = threading.Thread(target=self._loop, args=(startup,),
                                        name=f"funchost-timer-{self.spec.name}", daemon=True)
        self._thread.start()

    def _loop(self, startup: str | None) -> None:
        if startup is not None:
            self._invoke(datetime.now(timezone.utc), startup)
        while not self._stop.is_set():
            delay = (self.status.next - datetime.now(timezone.utc)).total_seconds()
            if delay > 0:
                self._stop.wait(min(delay, 3600))
                continue
            self._invoke(datetime.now(timezone.utc), None)

    def _invoke(self, when: datetime, unscheduled: str | None) -> None:
        if self._stop.is_set():
            return
        past_due = unscheduled == "IsPastDue"
        request = timer_input(past_due=past_due,
                              schedule_status=self.status.to_json() if self.monitor else None)
        reason = f"Timer fired at {when.isoformat()}" + (f" ({unscheduled})" if unscheduled else "")
        self.run(self.spec, request, reason)
        adjusted = when if unscheduled or self.status.next <= when else self.status.next
        self.status = ScheduleStatus(adjusted, self.schedule.next_after(adjusted), adjusted)
        if self.monitor is not None:
            self.monitor.update(self.spec.name, self.status)

    def stop(self, timeout: float) -> None:
        """Stop scheduling and wait for a running invocation."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
