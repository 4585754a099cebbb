"""One poll's observations of an instance, and the outcomes its job history shows.

Outcomes come from CI's workflow job history (:mod:`.job_history` says how far back it is read),
one per refresh, each with its own key:

* **Data source refresh**: one per terminal ingestion task (``ingestion:<taskId>``). ``successful``
  → succeeded, ``failed`` / ``timedOut`` → failed, ``aborted`` / ``deleted`` → cancelled; a
  skipped task refreshed nothing and is no outcome. The task carries its own CI errors. Its data
  source is the job's single ``idList`` entry for an ingestion job; otherwise (a full refresh) the
  data source whose friendly name or name is the task's friendly name, from the data source list
  the poll reads only when a subscription needs it
  (:func:`~ciconnector.trigger_kinds.detection.refreshes_needing_names`; the list also gives the
  data source's name, which a subscription may filter by).
* **Full refresh**: one per terminal job with ``operationType`` ``all`` (``job:<jobId>``).
* **Unification**: one per job whose ``merge`` tasks are all terminal (or, when CI sent no tasks,
  a terminal job with ``operationType`` ``merge``): ``merge:<jobId>``. Map, match and merge
  statuses combine the job's tasks of each step. A run none of whose steps ran (all skipped: the
  job failed before unification) is no unification run. Its outcome is the run's, not the merge
  step's: a failed match makes it ``failed`` with ``failedStage`` ``match``.

Each outcome is dated by CI (:attr:`Outcome.completed_at`); the rules give it to the subscriptions
created before that time.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Iterable, Literal, Sequence

from ciconnector.customer_insights.models import CIErrorDetail, DataSource, Job, Measure, Segment, Task

from .events import OUTCOMES, UnificationStages, combined_status, errors_of, failed_stage, utc

PollResource = Literal["jobs", "segments", "measures"]
"""A list one poll may fetch; each is a :class:`Snapshot` field (jobs fetched with their tasks).
The data source list is read only when an outcome needs it (``detection.refreshes_needing_names``)."""

UNIFICATION_STEPS = ("map", "match", "merge")
REFRESH_OUTCOMES = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True)
class Snapshot:
    """What one poll fetched for one instance; ``None`` = not fetched or the fetch failed.

    Attributes:
        instance_id: the CI instance.
        observed_at: poll time (UTC).
        jobs: the jobs read back to the cursor, with their tasks.
        segments / measures: the fetched lists.
    """

    instance_id: str
    observed_at: datetime
    jobs: Sequence[Job] | None = None
    segments: Sequence[Segment] | None = None
    measures: Sequence[Measure] | None = None


@dataclass(frozen=True)
class RefreshOutcome:
    """One data source refresh: a terminal ingestion task.

    Attributes:
        job, task: the job and its ingestion task.
        outcome: ``succeeded``, ``failed`` or ``cancelled``.
        data_source_id / data_source_name: the data source, when known (see module docstring).
    """

    job: Job
    task: Task
    outcome: str
    data_source_id: str | None = None
    data_source_name: str | None = None

    @property
    def key(self) -> str:
        return f"ingestion:{self.task.task_id}"

    @property
    def completed_at(self) -> datetime | None:
        """The task's end, else its job's (None when CI dates neither)."""
        return self.task.ended_at or self.job.ended_at

    @property
    def display_name(self) -> str | None:
        return self.task.friendly_name or self.data_source_name

    @property
    def errors(self) -> tuple[CIErrorDetail, ...]:
        return self.task.errors


@dataclass(frozen=True)
class FullRefresh:
    """A terminal full refresh job."""

    job: Job

    @property
    def key(self) -> str:
        return f"job:{self.job.job_id}"

    @property
    def completed_at(self) -> datetime | None:
        return self.job.ended_at or max((utc(t.ended_at) for t in self.job.tasks if t.ended_at), default=None)


@dataclass(frozen=True)
class UnificationRun:
    """The merge step of one job's unification run, terminal."""

    job: Job
    stages: UnificationStages
    merge_task_id: str | None
    ended_at: datetime | None
    errors: tuple[CIErrorDetail, ...]
    outcome: str | None
    failed_stage: str | None = None

    @property
    def key(self) -> str:
        return f"merge:{self.job.job_id}"

    @property
    def completed_at(self) -> datetime | None:
        return self.ended_at or self.job.ended_at


Outcome = RefreshOutcome | FullRefresh | UnificationRun


@dataclass(frozen=True)
class Changes:
    """The outcomes a poll found that were not reported before, by family."""

    refreshes: tuple[RefreshOutcome, ...] = ()
    full_refreshes: tuple[FullRefresh, ...] = ()
    unifications: tuple[UnificationRun, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.refreshes or self.full_refreshes or self.unifications)


def is_full_refresh(job: Job) -> bool:
    """Whether ``job`` refreshes everything (``operationType`` ``all``)."""
    return (job.operation_type or "").casefold() == "all"


def unification_run(job: Job) -> UnificationRun | None:
    """The terminal merge step of ``job``, or None when it has none or it is not terminal yet."""
    steps = {step: [t for t in job.tasks if (t.operation_type or "").casefold() == step]
             for step in UNIFICATION_STEPS}
    merges = steps["merge"]
    if merges:
        unification = [t for s in UNIFICATION_STEPS for t in steps[s]]
        if not all(t.is_terminal for t in merges) or all(t.task_status == "skipped" for t in unification):
            return None
        stages = UnificationStages(*(combined_status([t.task_status for t in steps[s]]) for s in UNIFICATION_STEPS))
        ended = [utc(t.ended_at) for t in unification if t.ended_at]
        stage = failed_stage(unification)
        outcome = OUTCOMES[next(t.task_status for t in unification if t.operation_type == stage)] if stage \
            else OUTCOMES.get(stages.merge or "")
        return UnificationRun(job, stages, merges[-1].task_id, max(ended, default=None), errors_of(unification),
                              outcome, stage)
    if not job.tasks and (job.operation_type or "").casefold() == "merge" and job.is_terminal:
        outcome = OUTCOMES.get(job.job_status)
        return UnificationRun(job, UnificationStages(None, None, job.job_status), None,
                              utc(job.ended_at) if job.ended_at else None, (), outcome,
                              "merge" if outcome in ("failed", "cancelled") else None)
    return None


def job_outcomes(job: Job) -> list[Outcome]:
    """Every outcome ``job`` shows so far (data sources unresolved for multi-source jobs)."""
    found: list[Outcome] = []
    single = job.identifiers[0].lower() if (job.operation_type or "").casefold() == "ingestion" \
        and len(job.identifiers) == 1 else None
    for task in job.tasks:
        if (task.operation_type or "").casefold() == "ingestion" and task.is_terminal:
            outcome = OUTCOMES.get(task.task_status)
            if outcome in REFRESH_OUTCOMES:
                found.append(RefreshOutcome(job, task, outcome, single))
    if is_full_refresh(job) and job.is_terminal:
        found.append(FullRefresh(job))
    run = unification_run(job)
    if run is not None:
        found.append(run)
    return found


def observe_outcomes(jobs: Sequence[Job], reported: frozenset[str]) -> tuple[Changes, list[tuple[Job, str]]]:
    """The outcomes in ``jobs`` not in ``reported``, and the (job, key) pairs the cursor keeps as
    reported once these are committed: each outcome's key while its job runs, and one
    ``done:<jobId>`` for a finished job (terminal, every task terminal), whose outcomes can no
    longer change — so the cursor grows with the jobs it re-reads, not with their tasks."""
    new: list[Outcome] = []
    keys: list[tuple[Job, str]] = []
    for job in jobs:
        done = f"done:{job.job_id}"
        if done in reported:
            keys.append((job, done))
            continue
        outcomes = job_outcomes(job)
        for outcome in outcomes:
            if outcome.key not in reported and all(o.key != outcome.key for o in new):
                new.append(outcome)
        if outcomes and job.is_terminal and all(t.is_terminal for t in job.tasks):
            keys.append((job, done))
        else:
            keys += [(job, outcome.key) for outcome in outcomes]
    new.sort(key=lambda o: (_when(o), o.key))
    return Changes(tuple(o for o in new if isinstance(o, RefreshOutcome)),
                   tuple(o for o in new if isinstance(o, FullRefresh)),
                   tuple(o for o in new if isinstance(o, UnificationRun))), keys


def _when(outcome: Outcome) -> datetime:
    moment = outcome.completed_at or outcome.job.submitted_at
    return utc(moment) if moment else LATEST


LATEST = datetime.max.replace(tzinfo=timezone.utc)


def identify(changes: Changes, data_sources: Iterable[DataSource]) -> Changes:
    """``changes`` with each refresh's data source id and name filled in from the data source list
    (matched by id, else, when the job did not name it, by a unique friendly name or name)."""
    listed = list(data_sources)
    by_id = {d.data_source_id: d for d in listed}

    def resolve(r: RefreshOutcome) -> RefreshOutcome:
        found = by_id.get(r.data_source_id or "")
        if found is None and r.data_source_id is None and r.task.friendly_name:
            wanted = r.task.friendly_name.casefold()
            matches = [d for d in listed if wanted in ((d.friendly_name or "").casefold(), d.name.casefold())]
            found = matches[0] if len(matches) == 1 else None
        return replace(r, data_source_id=found.data_source_id, data_source_name=found.name) if found else r

    return replace(changes, refreshes=tuple(resolve(r) for r in changes.refreshes))
