"""One poll's observations of an instance, and what completed since the watch state was taken.

Rules chosen here (shared by every subscription of the instance, whatever its kind):

* **Data source refresh outcome.** ``refreshState`` ``updated`` → succeeded, ``updateFailed`` →
  failed; ``updating``, ``notUpdated`` and ``updateCancelled`` are not outcomes. An outcome is
  reported when the data source is in an outcome state and its (``lastRefresh``, ``refreshState``)
  pair differs from the previous observation — e.g. ``updating → updated``, ``updated → updated``
  with a newer ``lastRefresh``, ``updated → updateFailed``. Two failures in a row with the same
  ``lastRefresh`` are only seen apart when a poll observed the ``updating`` state between them.
  The first observation of a data source only seeds its mark; a data source missing from a
  successful list (deleted) is forgotten, and seeds again if it comes back.
* **Full refresh.** A job with ``operationType`` ``all`` in a terminal ``jobStatus``, not
  reported before.
* **Unification.** A job whose ``merge`` tasks are all terminal (or, when CI sent no tasks, a
  terminal job with ``operationType`` ``merge``), not reported before; one run per job. Map,
  match and merge statuses combine the job's tasks of each step. A run none of whose steps ran
  (all skipped: the job failed before unification, e.g. in ingestion) is no unification run.
  Its outcome is the run's, not the merge step's: a failed match makes it ``failed`` with
  ``failedStage`` ``match`` (the merge after it is merely skipped).
* The first successful jobs observation reports every terminal run it sees too, with no previous
  observation (``jobs_since`` None): the rules pass a run only to subscriptions created before its
  end time, so a fresh subscription gets the runs that ended between its creation and this poll.
* A resource that was not fetched (``None``) leaves its part of the state untouched.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Sequence

from ciconnector.customer_insights.models import CIErrorDetail, DataSource, Job, Measure, Segment, StatusNode

from .events import OUTCOMES, UnificationStages, combined_status, errors_of, failed_stage, iso, utc
from .watermark import DataSourceMark, ReportedRun, WatchState

PollResource = Literal["dataSources", "jobs", "segments", "measures", "status"]
"""A list one poll may fetch; each is a :class:`Snapshot` field (jobs fetched with their tasks;
``status`` is the workflow status, one node per data source ingestion with its CI errors)."""

REFRESH_OUTCOME_STATES = frozenset({"updated", "updateFailed"})
"""``refreshState`` values that end a data source refresh."""

UNIFICATION_STEPS = ("map", "match", "merge")


@dataclass(frozen=True)
class Snapshot:
    """What one poll fetched for one instance; ``None`` = not fetched or the fetch failed.

    Attributes:
        instance_id: the CI instance.
        observed_at: poll time (UTC).
        data_sources / jobs / segments / measures: the fetched lists; jobs with their tasks.
        status: the workflow status nodes (where CI keeps a data source refresh's errors).
    """

    instance_id: str
    observed_at: datetime
    data_sources: Sequence[DataSource] | None = None
    jobs: Sequence[Job] | None = None
    segments: Sequence[Segment] | None = None
    measures: Sequence[Measure] | None = None
    status: Sequence[StatusNode] | None = None

    def refresh_errors(self, data_source_id: str) -> tuple[CIErrorDetail, ...]:
        """The errors of the data source's latest ingestion (CI's ``ciErrors``), () when unknown."""
        for node in self.status or ():
            if node.operation_type == "ingestion" and (node.identifier or "").lower() == data_source_id:
                return node.errors
        return ()


@dataclass(frozen=True)
class RefreshOutcome:
    """A data source refresh that completed since the previous observation.

    Attributes:
        data_source: the data source as observed now.
        outcome: ``succeeded`` or ``failed``.
        sequence: the data source's outcome number (1 for the first one reported).
        completed_at: the new ``lastRefresh`` when it changed, else None.
    """

    data_source: DataSource
    outcome: str
    sequence: int
    completed_at: datetime | None


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


@dataclass(frozen=True)
class Changes:
    """What completed on the instance since the previous observation.

    Attributes:
        refreshes: data source refresh outcomes.
        full_refreshes: terminal full-refresh jobs.
        unifications: terminal unification merge steps.
        data_sources_since: poll time of the previous data source observation (None = first).
        jobs_since: poll time of the previous jobs observation (None = first).
    """

    refreshes: tuple[RefreshOutcome, ...] = ()
    full_refreshes: tuple[Job, ...] = ()
    unifications: tuple[UnificationRun, ...] = ()
    data_sources_since: datetime | None = None
    jobs_since: datetime | None = None


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


def observe_changes(snapshot: Snapshot, state: WatchState) -> tuple[Changes, WatchState]:
    """What completed since ``state`` according to ``snapshot``, and the advanced watch state."""
    changes = Changes(data_sources_since=state.data_sources_observed_at, jobs_since=state.jobs_observed_at)
    if snapshot.data_sources is not None:
        refreshes, marks = _refresh_outcomes(snapshot.data_sources, state)
        changes = replace(changes, refreshes=refreshes)
        state = replace(state, data_sources=marks, data_sources_observed_at=utc(snapshot.observed_at))
    if snapshot.jobs is not None:
        full, unifications, state = _completed_runs(snapshot, state)
        changes = replace(changes, full_refreshes=full, unifications=unifications)
    return changes, state


def _refresh_outcomes(data_sources: Sequence[DataSource],
                      state: WatchState) -> tuple[tuple[RefreshOutcome, ...], dict[str, DataSourceMark]]:
    outcomes: list[RefreshOutcome] = []
    marks: dict[str, DataSourceMark] = {}
    first = state.data_sources_observed_at is None
    for ds in data_sources:
        last = iso(ds.last_refresh) if ds.last_refresh else None
        mark = DataSourceMark(last, ds.refresh_state)
        previous = state.data_sources.get(ds.data_source_id)
        if previous is None and first and last is not None and ds.refresh_state in REFRESH_OUTCOME_STATES:
            mark = replace(mark, outcomes=1)  # the instance's first observation: dated by lastRefresh
            outcomes.append(RefreshOutcome(ds, OUTCOMES[ds.refresh_state], 1, ds.last_refresh))
        elif previous is not None:
            mark = replace(mark, outcomes=previous.outcomes)
            if ds.refresh_state in REFRESH_OUTCOME_STATES and (last, ds.refresh_state) != (
                    previous.last_refresh, previous.refresh_state):
                mark = replace(mark, outcomes=previous.outcomes + 1)
                outcomes.append(RefreshOutcome(ds, OUTCOMES[ds.refresh_state], mark.outcomes,
                                               ds.last_refresh if last != previous.last_refresh else None))
        marks[ds.data_source_id] = mark
    return tuple(outcomes), marks


def _completed_runs(snapshot: Snapshot,
                    state: WatchState) -> tuple[tuple[Job, ...], tuple[UnificationRun, ...], WatchState]:
    full: list[Job] = []
    unifications: list[UnificationRun] = []
    new_runs: list[ReportedRun] = []

    def is_new(key: str, ended_at: datetime | None) -> bool:
        return not state.is_reported(key, ended_at) and all(r.key != key for r in new_runs)

    for job in snapshot.jobs or ():
        if is_full_refresh(job) and job.is_terminal and is_new(job.job_id, job.ended_at):
            full.append(job)
            new_runs.append(ReportedRun(job.job_id, job.ended_at))
        run = unification_run(job)
        if run is not None and is_new(run.key, run.ended_at):
            unifications.append(run)
            new_runs.append(ReportedRun(run.key, run.ended_at))
    new_runs.sort(key=lambda r: (utc(r.ended_at or snapshot.observed_at), r.key))
    state = replace(state.with_reported(new_runs), jobs_observed_at=utc(snapshot.observed_at))
    return tuple(full), tuple(unifications), state
