"""What the console reads of a poll from the watch row's state: the last poll, CI calls in the last
hour, and the job-history gaps of the last day (an admin must see that outcomes may be missing)."""
from datetime import datetime, timedelta, timezone

from ciconnector.admin_console.overview import _problems
from ciconnector.storage.activity import CallCounts, poll_activity
from ciconnector.timeutil import iso

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def state(*gaps: dict) -> dict:
    return {"activity": {"at": iso(NOW), "fetched": ["jobs"], "failed": [], "deliveries": 0, "committed": True,
                         "calls": {iso(NOW - timedelta(minutes=5)): [2, 1], iso(NOW - timedelta(hours=2)): [9, 9]}},
            "jobs": {"gaps": list(gaps)}}


def test_calls_of_the_last_hour_only():
    poll, calls = poll_activity(state(), NOW)
    assert poll is not None and poll.ok and calls == CallCounts(2, 1)


def test_recent_gaps_are_problems_and_old_ones_are_not():
    recent = {"noticedAt": iso(NOW - timedelta(hours=1)), "since": "2026-11-30T10:00:00Z", "until": None,
              "reason": "more than 1000 jobs were submitted since the last poll"}
    old = {**recent, "noticedAt": iso(NOW - timedelta(days=2)), "reason": "old"}
    poll, calls = poll_activity(state(recent, old), NOW)
    assert poll is not None and len(poll.gaps) == 1
    problems = _problems(True, poll, calls, (), (), NOW)
    assert any(p.startswith("job history gap, outcomes may be missing: more than 1000 jobs") for p in problems)


def test_unreadable_activity_reads_as_none():
    assert poll_activity({"activity": {"at": "yesterday"}}, NOW) == (None, CallCounts())
