"""The job cursor: reading CI's job history back to the floor, moving the floor, gaps."""
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Sequence

import pytest

from ciconnector.customer_insights import Job
from ciconnector.trigger_kinds import CATALOG, Snapshot, detect
from ciconnector.trigger_kinds.job_history import (
    FIRST_POLL_LOOKBACK,
    FIRST_READ,
    FLOOR_MARGIN,
    MAX_GAPS,
    MAX_JOBS_READ,
    STUCK_AFTER,
    Gap,
    JobCursor,
    JobsRead,
    advance,
    read_back,
    start_floor,
)
from ciconnector.trigger_kinds.observations import observe_outcomes
from tests.unit.timeline import T0, at, stamp

INSTANCE = "6f0e2a1c-3b4d-4e5f-8a9b-0c1d2e3f4a5b"


def job(jid: str, submitted: float, status: str = "successful", op: str = "ingestion",
        ended: float | None = None, submission: str = "onDemand", tasks: Sequence[dict] = ()) -> Job:
    if ended is None and status not in ("queued", "running", "needsUpdate"):
        ended = submitted + 0.5
    return Job.from_api({"jobId": jid, "jobStatus": status, "operationType": op, "jobSubmissionKind": submission,
                         "submittedTimestamp": stamp(submitted),
                         **({"endTimestamp": stamp(ended)} if ended is not None else {}), "tasks": list(tasks)})


def history(count: int, newest: float = 0, step: float = 1) -> list[Job]:
    """``count`` terminal jobs, newest first, submitted ``step`` minutes apart, the newest at ``newest``."""
    return [job(f"j{i:04}", newest - i * step) for i in range(count)]


@dataclass
class Fetch:
    """CI's jobs list: the newest ``top`` jobs; records what each call asked for."""

    jobs: list[Job]
    asked: list[int] = field(default_factory=list)

    def __call__(self, top: int) -> list[Job]:
        self.asked.append(top)
        return self.jobs[:top]


def submitted(read: JobsRead) -> list[datetime]:
    return [j.submitted_at for j in read.jobs if j.submitted_at]


# --- start_floor -----------------------------------------------------------------------------------

def test_first_poll_starts_the_lookback_before_the_oldest_subscription():
    assert start_floor(JobCursor(), [at(10), at(-30), at(0)]) == at(-30) - FIRST_POLL_LOOKBACK
    assert start_floor(JobCursor(), []) is None, "no subscription to date the first read by"
    assert start_floor(JobCursor(floor=at(5)), [at(-30)]) == at(5), "a read cursor keeps its floor"


def test_first_poll_reads_from_the_start_floor_and_records_no_gap():
    fetch = Fetch(history(10, newest=0, step=10))  # all within the lookback
    floor = start_floor(JobCursor(), [at(-30)])
    assert floor is not None
    read = read_back(fetch, JobCursor(), floor, now=at(1))
    assert len(read.jobs) == 10 and read.gap is None and fetch.asked == [FIRST_READ]
    assert read.floor == floor


# --- read_back -------------------------------------------------------------------------------------

def test_read_back_reaches_the_floor_in_the_first_call():
    fetch = Fetch(history(100, newest=99))  # submitted at minutes 99, 98, ... 0
    read = read_back(fetch, JobCursor(floor=at(90)), at(90), now=at(100))
    assert fetch.asked == [FIRST_READ] and read.calls == 1
    assert submitted(read) == [at(m) for m in range(99, 89, -1)], "only jobs at or after the floor"
    assert read.gap is None
    assert read.top == 10 + FIRST_READ, "the next read starts with what this one needed, plus room"


def test_read_back_doubles_top_until_the_oldest_job_is_older_than_the_floor():
    fetch = Fetch(history(100, newest=99))
    read = read_back(fetch, JobCursor(floor=at(30)), at(30), now=at(100))
    assert fetch.asked == [25, 50, 100] and read.calls == 3
    assert len(read.jobs) == 70 and min(submitted(read)) == at(30)
    assert read.gap is None and read.top == 95


def test_read_back_starts_from_the_cursors_top():
    fetch = Fetch(history(100, newest=99))
    read_back(fetch, JobCursor(floor=at(10), top=80), at(10), now=at(100))
    assert fetch.asked == [80, 160]


def test_a_job_at_the_floor_is_read_again_and_one_older_is_needed_to_stop():
    fetch = Fetch(history(40, newest=39))  # newest 25 jobs: minutes 39..15
    read = read_back(fetch, JobCursor(floor=at(15)), at(15), now=at(40))
    assert fetch.asked == [25, 50], "the oldest of the first 25 is at the floor, not older"
    assert min(submitted(read)) == at(15)


def test_ci_returning_fewer_jobs_than_asked_is_exhausted():
    """A young instance lists every job it has; none is older than the floor, and nothing is missing."""
    fetch = Fetch([job("j2", 3), job("j1", 1)])
    cursor = JobCursor(floor=at(3) - FLOOR_MARGIN)  # set by the previous poll's newest job
    read = read_back(fetch, cursor, cursor.floor, now=at(5))
    assert fetch.asked == [FIRST_READ] and len(read.jobs) == 2
    assert read.gap is None


def test_ci_no_longer_listing_the_jobs_since_the_floor_is_a_gap():
    fetch = Fetch([job("j2", 30), job("j1", 20)])
    read = read_back(fetch, JobCursor(floor=at(0)), at(0), now=at(31))
    assert fetch.asked == [FIRST_READ] and len(read.jobs) == 2
    assert read.gap is not None and "no longer lists" in read.gap.reason
    assert (read.gap.since, read.gap.until, read.gap.noticed_at) == (at(0), at(20), at(31))


def test_more_jobs_than_max_since_the_floor_records_a_gap_and_returns_what_it_got():
    fetch = Fetch(history(MAX_JOBS_READ + 500, newest=0, step=0.01))
    floor = at(-100)  # older than every job listed
    read = read_back(fetch, JobCursor(floor=floor), floor, now=at(1))
    assert fetch.asked == [25, 50, 100, 200, 400, 800, MAX_JOBS_READ]
    assert len(read.jobs) == MAX_JOBS_READ and read.top == MAX_JOBS_READ
    assert read.gap is not None and f"more than {MAX_JOBS_READ}" in read.gap.reason
    assert read.gap.since == floor and read.gap.until == min(submitted(read))


def test_an_empty_history_is_no_gap():
    read = read_back(Fetch([]), JobCursor(floor=at(0)), at(0), now=at(1))
    assert read.jobs == () and read.gap is None and read.top == FIRST_READ


def test_fetch_errors_propagate():
    def failing(top: int) -> list[Job]:
        raise RuntimeError("CI is down")

    with pytest.raises(RuntimeError):
        read_back(failing, JobCursor(floor=at(0)), at(0), now=at(1))


# --- advance ---------------------------------------------------------------------------------------

def read_of(jobs: list[Job], floor: datetime, gap: Gap | None = None) -> JobsRead:
    return JobsRead(tuple(jobs), floor, len(jobs) + FIRST_READ, 1, gap)


def test_floor_stays_at_the_oldest_running_job():
    jobs = [job("c", 30), job("b", 20, status="running"), job("a", 10, status="queued")]
    cursor = advance(JobCursor(floor=at(0)), read_of(jobs, at(0)), [], now=at(31))
    assert cursor.floor == at(10) and cursor.gaps == ()


def test_with_nothing_running_the_floor_is_the_newest_job_less_the_margin():
    jobs = [job("c", 30), job("b", 20)]
    assert advance(JobCursor(floor=at(0)), read_of(jobs, at(0)), [], now=at(31)).floor == at(30) - FLOOR_MARGIN
    assert advance(JobCursor(floor=at(28)), read_of(jobs[:1], at(28)), [], now=at(31)).floor == at(28), \
        "never below the previous floor"
    assert advance(JobCursor(floor=at(28)), read_of([], at(28)), [], now=at(31)).floor == at(28)


def test_keys_below_the_new_floor_are_dropped_and_the_others_kept():
    old, running, new = job("a", 10), job("b", 20, status="running"), job("c", 30)
    keys = [(old, "job:a"), (running, "ingestion:t1"), (new, "job:c")]
    cursor = advance(JobCursor(floor=at(0)), read_of([new, running, old], at(0)), keys, now=at(31))
    assert cursor.floor == at(20) and cursor.reported == {"ingestion:t1", "job:c"}
    assert cursor.top == 3 + FIRST_READ


def test_a_job_read_again_is_not_reported_again():
    ingest = {"taskId": "t1", "taskStatus": "successful", "operationType": "ingestion", "endTimestamp": stamp(21)}
    jobs = [job("c", 30, op="all"), job("b", 20, tasks=[ingest]), job("a", 10, status="running", op="all"),
            job("z", -10)]
    fetch = Fetch(jobs)
    cursor = JobCursor(floor=at(0))
    read = read_back(fetch, cursor, at(0), now=at(31))
    changes, keys = observe_outcomes(read.jobs, cursor.reported)
    assert [r.key for r in changes.refreshes] == ["ingestion:t1"]
    assert [f.key for f in changes.full_refreshes] == ["job:c"]
    cursor = advance(cursor, read, keys, now=at(31))
    assert cursor.floor == at(10), "the running job holds the floor: every job after it is read again"
    again = read_back(fetch, cursor, at(10), now=at(32))
    assert [j.job_id for j in again.jobs] == ["c", "b", "a"]
    assert not observe_outcomes(again.jobs, cursor.reported)[0]
    jobs[2] = job("a", 10, status="failed", op="all", ended=32)
    changes, _ = observe_outcomes(read_back(fetch, cursor, at(10), now=at(33)).jobs, cursor.reported)
    assert [f.key for f in changes.full_refreshes] == ["job:a"] and not changes.refreshes, \
        "only the job that ended since"


def test_a_stuck_job_stops_holding_the_floor_and_records_a_gap_once():
    now = at(0)
    stuck_at = (now - STUCK_AFTER - timedelta(hours=1) - T0).total_seconds() / 60
    jobs = [job("new", -60), job("stuck", stuck_at, status="running")]
    cursor = advance(JobCursor(floor=at(stuck_at)), read_of(jobs, at(stuck_at)), [], now=now)
    assert cursor.floor == at(-60) - FLOOR_MARGIN
    [gap] = cursor.gaps
    assert "stuck" in gap.reason and gap.since == at(stuck_at) and gap.until is None and gap.noticed_at == now
    fetch = Fetch(jobs)
    read = read_back(fetch, cursor, cursor.floor, now=at(1))
    assert [j.job_id for j in read.jobs] == ["new"], "the stuck job is below the floor now"
    assert advance(cursor, read, [], now=at(1)).gaps == cursor.gaps


def test_a_stuck_job_among_the_newest_stays_read_and_records_its_gap_when_left_behind():
    stuck_at = -(STUCK_AFTER + timedelta(hours=1)).total_seconds() / 60
    fetch = Fetch([job("stuck", stuck_at, status="running"), job("old", stuck_at - 60)])
    cursor = JobCursor(floor=at(stuck_at - 10))
    for minute in (0, 1, 2):
        read = read_back(fetch, cursor, cursor.floor, now=at(minute))
        cursor = advance(cursor, read, [], now=at(minute))
    assert cursor.gaps == (), "nothing is left behind while the stuck job is still read"
    assert cursor.floor == at(stuck_at) - FLOOR_MARGIN
    fetch.jobs.insert(0, job("later", 2.5))
    read = read_back(fetch, cursor, cursor.floor, now=at(3))
    cursor = advance(cursor, read, [], now=at(3))
    assert [g.since for g in cursor.gaps] == [at(stuck_at)]
    read = read_back(fetch, cursor, cursor.floor, now=at(4))
    assert len(advance(cursor, read, [], now=at(4)).gaps) == 1


def test_the_reads_gap_is_kept_and_gaps_are_capped():
    gaps = tuple(Gap(at(i), at(i - 1), at(i), f"gap {i}") for i in range(MAX_GAPS))
    latest = Gap(at(50), at(40), at(45), "latest")
    cursor = advance(JobCursor(floor=at(0), gaps=gaps), read_of([job("a", 49)], at(0), latest), [], now=at(50))
    assert len(cursor.gaps) == MAX_GAPS
    assert cursor.gaps[-1] == latest and cursor.gaps[0] == gaps[1], "newest last, oldest dropped"


# --- storage ---------------------------------------------------------------------------------------

def test_cursor_round_trips_through_json():
    cursor = JobCursor(floor=at(3.25), reported=frozenset({"job:a", "ingestion:t1"}), top=60,
                       gaps=(Gap(at(4), at(1), None, "job x stuck"), Gap(at(5), None, at(2), "lost")))
    text = json.dumps(cursor.to_dict())
    assert JobCursor.from_dict(json.loads(text)) == cursor
    assert JobCursor.from_dict(json.loads(json.dumps(JobCursor().to_dict()))) == JobCursor()
    assert JobCursor.from_dict({}) == JobCursor()
    assert JobCursor.from_dict({"top": MAX_JOBS_READ * 5}).top == MAX_JOBS_READ


@pytest.mark.parametrize("data, error", [
    ([], ValueError),
    ("text", ValueError),
    ({"reported": [1]}, ValueError),
    ({"reported": 5}, TypeError),
    ({"top": 0}, ValueError),
    ({"top": True}, ValueError),
    ({"top": "25"}, ValueError),
    ({"floor": "yesterday"}, ValueError),
    ({"gaps": [{}]}, KeyError),
    ({"gaps": [{"noticedAt": "soon"}]}, ValueError),
    ({"gaps": ["gap"]}, TypeError),
])
def test_unreadable_cursor_raises(data: Any, error: type[Exception]):
    with pytest.raises(error):
        JobCursor.from_dict(data)


# --- a busy instance -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sub:
    subscription_id: str
    trigger_kind: str
    parameters: dict[str, Any]
    created_at: datetime
    instance_id: str = INSTANCE
    baseline: float | None = None


def test_a_full_refresh_that_ends_while_60_newer_jobs_exist_is_reported():
    """The floor the running full refresh holds is read back to, however many jobs came after it."""
    full = Sub("s1", "fullRefreshCompleted", {p.name: p.default for p in CATALOG["fullRefreshCompleted"].parameters}
               | {"instanceId": INSTANCE}, at(-600))
    older = [job(f"o{i:02}", -100 - i) for i in range(39)]
    jobs = [job("full", -99, status="running", op="all", submission="scheduled"), *older]
    fetch = Fetch(jobs)
    floor = start_floor(JobCursor(), [full.created_at])
    assert floor is not None
    read = read_back(fetch, JobCursor(), floor, now=at(-98))
    changes, keys = observe_outcomes(read.jobs, frozenset())
    assert not changes.full_refreshes
    cursor = advance(JobCursor(), read, keys, now=at(-98))
    assert cursor.floor == at(-99)
    cursor = JobCursor.from_dict(json.loads(json.dumps(cursor.to_dict())))

    newer = [job(f"n{i:02}", -i) for i in range(60)]  # ingestion jobs since, newest first
    jobs[0] = job("full", -99, status="successful", op="all", submission="scheduled", ended=-1.5)
    fetch = Fetch([*newer, *jobs])
    assert len(fetch.jobs) == 100
    read = read_back(fetch, cursor, cursor.floor, now=at(1))
    assert fetch.asked[0] == cursor.top and read.gap is None
    changes, keys = observe_outcomes(read.jobs, cursor.reported)
    [refresh] = changes.full_refreshes
    assert refresh.job.job_id == "full"
    events = detect([full], Snapshot(INSTANCE, at(1), jobs=read.jobs), changes, {}).events
    assert [e.job_id for e in events["s1"]] == ["full"]
    cursor = advance(cursor, read, keys, now=at(1))
    assert cursor.floor == at(0) - FLOOR_MARGIN and cursor.gaps == ()


def test_a_busy_instance_read_from_the_default_top_doubles_to_the_floor():
    older = [job(f"o{i:02}", -100 - i) for i in range(39)]
    newer = [job(f"n{i:02}", -i) for i in range(60)]
    fetch = Fetch([*newer, job("full", -99, op="all", ended=-1.5), *older])
    read = read_back(fetch, JobCursor(floor=at(-99)), at(-99), now=at(1))
    assert fetch.asked == [25, 50, 100]
    changes, _ = observe_outcomes(read.jobs, frozenset())
    assert [f.job.job_id for f in changes.full_refreshes] == ["full"]


def test_the_cursor_keeps_one_key_per_finished_job_however_many_tasks():
    """State stays small (Table's entity limit): a finished full refresh of 300 data sources is one
    ``done:`` key; while it runs, its reported ingestion outcomes are kept one by one."""
    def ingestion(i: int, status: str) -> dict:
        return {"taskId": f"t{i:04}", "taskStatus": status, "operationType": "ingestion",
                "friendlyName": f"Source {i}", "endTimestamp": stamp(1)}

    running = job("full", 0, "running", op="all", tasks=[ingestion(i, "successful" if i < 200 else "running")
                                                        for i in range(300)])
    changes, keys = observe_outcomes([running], frozenset())
    assert len(changes.refreshes) == 200 and len(keys) == 200
    finished = job("full", 0, "successful", op="all", ended=2,
                   tasks=[ingestion(i, "successful") for i in range(300)])
    changes, keys = observe_outcomes([finished], frozenset(k for _, k in keys))
    assert len(changes.refreshes) == 100 and len(changes.full_refreshes) == 1, "only the rest is news"
    assert [k for _, k in keys] == ["done:full"]
    changes, keys = observe_outcomes([finished], frozenset({"done:full"}))
    assert not changes and [k for _, k in keys] == ["done:full"]
