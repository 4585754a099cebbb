"""Detection rules: how each trigger kind turns one poll into events for one subscription.

Two families. An :class:`OutcomeRule` picks, from the instance-wide :class:`Changes`, the completed
refreshes / runs a subscription asked for. A :class:`ThresholdRule` reads one value from the
:class:`Snapshot` and runs the subscription's edge-triggered :class:`ThresholdState`.

An outcome is news for a subscription when CI dates its completion strictly after the
subscription's creation: a fresh subscription receives every outcome that completed after it was
created, including those before the first poll, and nothing older. An outcome CI does not date is
dated by its job's submission (a task cannot end before its job was submitted), else is no news.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Mapping, Protocol

from ciconnector.customer_insights.models import CIErrorDetail, DataSource

from .events import (
    OUTCOMES,
    Event,
    FailedTask,
    Number,
    TaskSummary,
    UnificationStages,
    errors_of,
    failed_stage,
    iso,
    make_event_id,
    utc,
)
from .observations import Changes, RefreshOutcome, Snapshot
from .parameters import DATA_SOURCE_ID, DIRECTION, INCLUDE_ON_DEMAND, MEASURE_NAME, SEGMENT_NAME, THRESHOLD
from .thresholds import DEFAULT_DIRECTION, ThresholdState

SAMPLE_DATA_SOURCE_ID = "00000000-0000-0000-0000-000000000001"
SAMPLE_JOB_ID = "00000000-0000-0000-0000-000000000002"
SAMPLE_TASK_ID = "00000000-0000-0000-0000-000000000003"
SAMPLE_ERROR = CIErrorDetail("SampleError", "Sample failure: the source could not be reached.", "error", "system")


def names_data_source(wanted: str | None, data_source: DataSource) -> bool:
    """Whether a subscription's data source parameter (None = any; else its id or unique name, in
    any case: makers may type either) names ``data_source``."""
    return wanted is None or wanted.casefold() in (data_source.data_source_id, data_source.name.casefold())


def names_refreshed_source(wanted: str | None, refresh: RefreshOutcome) -> bool:
    """:func:`names_data_source` for a refresh outcome (its id and name when known, else the task's
    friendly name)."""
    if wanted is None:
        return True
    names = {refresh.data_source_id, (refresh.data_source_name or "").casefold(),
             (refresh.task.friendly_name or "").casefold() if refresh.data_source_id is None else None}
    return wanted.casefold() in names - {None, ""}


class WatchedSubscription(Protocol):
    """What detection reads of a subscription (the storage record satisfies it)."""

    @property
    def subscription_id(self) -> str: ...

    @property
    def instance_id(self) -> str: ...

    @property
    def trigger_kind(self) -> str: ...

    @property
    def parameters(self) -> Mapping[str, Any]:
        """Normalized parameters (see ``TriggerKind.parameters_of``)."""

    @property
    def created_at(self) -> datetime: ...

    @property
    def baseline(self) -> Number | None:
        """A threshold subscription's value observed at subscribe (its first comparison point), or None."""


def is_news_for(subscription: WatchedSubscription, completed_at: datetime | None) -> bool:
    """Whether an outcome CI dated ``completed_at`` completed after ``subscription`` was created."""
    return completed_at is not None and utc(completed_at) > utc(subscription.created_at)


def _dated(completed_at: datetime | None, job_submitted_at: datetime | None) -> datetime | None:
    return completed_at or job_submitted_at


def _sample_id(kind: str, instance_id: str, now: datetime) -> str:
    return make_event_id("test", kind, instance_id, utc(now).isoformat())


class OutcomeRule(ABC):
    """A rule reporting refresh outcomes, once per completed refresh."""

    @abstractmethod
    def events(self, subscription: WatchedSubscription, snapshot: Snapshot, changes: Changes) -> list[Event]:
        """The events of ``changes`` that ``subscription`` asked for."""

    @abstractmethod
    def sample(self, kind: str, instance_id: str, parameters: Mapping[str, Any], now: datetime) -> Event:
        """A test event with plausible values (``is_test`` = True)."""


@dataclass(frozen=True)
class DataSourceRefreshRule(OutcomeRule):
    """Data source refreshes with outcome :attr:`outcome`, of one data source or any."""

    outcome: Literal["succeeded", "failed"]

    def events(self, subscription: WatchedSubscription, snapshot: Snapshot, changes: Changes) -> list[Event]:
        wanted = subscription.parameters.get(DATA_SOURCE_ID)
        kind = subscription.trigger_kind
        return [
            Event(event_id=make_event_id(kind, snapshot.instance_id, r.key), trigger=kind,
                  occurred_at=r.completed_at or snapshot.observed_at, instance_id=snapshot.instance_id,
                  subject_type="dataSource", subject_id=r.data_source_id, subject_name=r.display_name,
                  status=r.task.task_status, outcome=r.outcome, job_id=r.job.job_id, task_id=r.task.task_id,
                  submission_kind=r.job.submission_kind, ended_at=r.completed_at,
                  failed_stage="ingestion" if r.outcome != "succeeded" else None,
                  errors=r.errors if r.outcome != "succeeded" else ())
            for r in changes.refreshes
            if r.outcome == self.outcome and names_refreshed_source(wanted, r)
            and is_news_for(subscription, _dated(r.completed_at, r.job.submitted_at))
        ]

    def sample(self, kind: str, instance_id: str, parameters: Mapping[str, Any], now: datetime) -> Event:
        return Event(event_id=_sample_id(kind, instance_id, now), trigger=kind, occurred_at=now,
                     instance_id=instance_id, is_test=True, subject_type="dataSource",
                     subject_id=parameters.get(DATA_SOURCE_ID) or SAMPLE_DATA_SOURCE_ID,
                     subject_name="Sample data source", outcome=self.outcome,
                     status="successful" if self.outcome == "succeeded" else "failed", job_id=SAMPLE_JOB_ID,
                     task_id=SAMPLE_TASK_ID, submission_kind="onDemand", ended_at=now,
                     failed_stage="ingestion" if self.outcome == "failed" else None,
                     errors=(SAMPLE_ERROR,) if self.outcome == "failed" else ())


@dataclass(frozen=True)
class FullRefreshRule(OutcomeRule):
    """Completed full refreshes: scheduled ones, plus on-demand ones when the subscription asks."""

    def events(self, subscription: WatchedSubscription, snapshot: Snapshot, changes: Changes) -> list[Event]:
        include_on_demand = bool(subscription.parameters.get(INCLUDE_ON_DEMAND))
        kind = subscription.trigger_kind
        return [
            Event(event_id=make_event_id(kind, snapshot.instance_id, job.job_id), trigger=kind,
                  occurred_at=refresh.completed_at or snapshot.observed_at, instance_id=snapshot.instance_id,
                  status=job.job_status, outcome=OUTCOMES.get(job.job_status), failed_stage=failed_stage(job.tasks),
                  job_id=job.job_id,
                  submission_kind=job.submission_kind, submitted_at=job.submitted_at, ended_at=job.ended_at,
                  errors=errors_of(job.tasks), task_summary=TaskSummary.of(job.tasks) if job.tasks else None)
            for refresh in changes.full_refreshes
            for job in (refresh.job,)
            if ((job.submission_kind or "").casefold() == "scheduled" or include_on_demand)
            and is_news_for(subscription, _dated(refresh.completed_at, job.submitted_at))
        ]

    def sample(self, kind: str, instance_id: str, parameters: Mapping[str, Any], now: datetime) -> Event:
        failed = FailedTask(SAMPLE_TASK_ID, "segmentation", "Sample segment", "failed", SAMPLE_ERROR)
        return Event(event_id=_sample_id(kind, instance_id, now), trigger=kind, occurred_at=now,
                     instance_id=instance_id, is_test=True, status="failed", outcome="failed",
                     failed_stage="segmentation", job_id=SAMPLE_JOB_ID, submission_kind="scheduled",
                     submitted_at=now, ended_at=now, errors=(SAMPLE_ERROR,),
                     task_summary=TaskSummary(total=12, successful=11, failed=1, cancelled=0,
                                                               skipped=0, running=0, failed_tasks=(failed,)))


@dataclass(frozen=True)
class UnificationRule(OutcomeRule):
    """Unification runs whose merge step reached a terminal status."""

    def events(self, subscription: WatchedSubscription, snapshot: Snapshot, changes: Changes) -> list[Event]:
        kind = subscription.trigger_kind
        return [
            Event(event_id=make_event_id(kind, snapshot.instance_id, run.key), trigger=kind,
                  occurred_at=run.ended_at or snapshot.observed_at, instance_id=snapshot.instance_id,
                  status=run.stages.merge, outcome=run.outcome, failed_stage=run.failed_stage, job_id=run.job.job_id,
                  task_id=run.merge_task_id, submission_kind=run.job.submission_kind,
                  submitted_at=run.job.submitted_at, ended_at=run.ended_at, errors=run.errors, stages=run.stages)
            for run in changes.unifications
            if is_news_for(subscription, _dated(run.completed_at, run.job.submitted_at))
        ]

    def sample(self, kind: str, instance_id: str, parameters: Mapping[str, Any], now: datetime) -> Event:
        return Event(event_id=_sample_id(kind, instance_id, now), trigger=kind, occurred_at=now,
                     instance_id=instance_id, is_test=True, status="successful", outcome="succeeded",
                     job_id=SAMPLE_JOB_ID, task_id=SAMPLE_TASK_ID, submission_kind="onDemand", submitted_at=now,
                     ended_at=now, stages=UnificationStages("successful", "successful", "successful"))


@dataclass(frozen=True)
class Observation:
    """One valid value of a threshold subject."""

    value: Number
    display_name: str
    evaluated_at: datetime | None


@dataclass(frozen=True)
class ThresholdRule:
    """Edge-triggered crossings of a segment's member count or a scalar measure's value.

    A segment counts only when its evaluation completed successfully (``CompletedSuccess``, or no
    evaluation status at all); a measure only when it is scalar and has a value.
    """

    subject: Literal["segment", "measure"]

    @property
    def parameter(self) -> str:
        """The parameter naming the watched subject."""
        return SEGMENT_NAME if self.subject == "segment" else MEASURE_NAME

    def observe(self, snapshot: Snapshot, name: str) -> Observation | None:
        """The subject's value in ``snapshot``, or None when missing, deleted or not evaluated."""
        if self.subject == "segment":
            for segment in snapshot.segments or ():
                if segment.name == name and segment.member_count is not None \
                        and segment.evaluation_status in (None, "CompletedSuccess"):
                    return Observation(segment.member_count, segment.display_name, segment.evaluated_at)
            return None
        for measure in snapshot.measures or ():
            if measure.name == name and measure.is_scalar and measure.value is not None:
                return Observation(measure.value, measure.display_name or measure.name, measure.evaluated_at)
        return None

    def evaluate(self, subscription: WatchedSubscription, snapshot: Snapshot,
                 state: ThresholdState) -> tuple[ThresholdState, Event | None]:
        """The subscription's next state and the event of a crossing, if one fired."""
        params = subscription.parameters
        name, threshold = params[self.parameter], params[THRESHOLD]
        direction = params.get(DIRECTION) or DEFAULT_DIRECTION
        observation = self.observe(snapshot, name)
        if observation is None:
            return state, None
        new_state, crossed = state.observe(observation.value, threshold, direction)
        if crossed is None:
            return new_state, None
        kind = subscription.trigger_kind
        event = Event(
            # the observation is part of the id: the crossing counter alone restarts when the state does
            event_id=make_event_id(kind, snapshot.instance_id, subscription.subscription_id, new_state.crossings,
                                   crossed, state.last_value, observation.value,
                                   iso(observation.evaluated_at) if observation.evaluated_at else ""),
            trigger=kind, occurred_at=observation.evaluated_at or snapshot.observed_at,
            instance_id=snapshot.instance_id, subject_type=self.subject, subject_id=name,
            subject_name=observation.display_name, previous_value=state.last_value, current_value=observation.value,
            threshold=threshold, direction=direction, crossing=crossed)
        return new_state, event

    def sample(self, kind: str, instance_id: str, parameters: Mapping[str, Any], now: datetime) -> Event:
        threshold = parameters.get(THRESHOLD, 100)
        direction = parameters.get(DIRECTION) or DEFAULT_DIRECTION
        crossed = "below" if direction == "below" else "above"
        low, high = (max(threshold - 1, 0), threshold + 1) if self.subject == "segment" else (
            threshold - 1.5, threshold + 1.5)
        previous, current = (low, high) if crossed == "above" else (high, low)
        return Event(event_id=_sample_id(kind, instance_id, now), trigger=kind, occurred_at=now,
                     instance_id=instance_id, is_test=True, subject_type=self.subject,
                     subject_id=parameters.get(self.parameter) or f"Sample{self.subject.title()}",
                     subject_name=f"Sample {self.subject}", previous_value=previous, current_value=current,
                     threshold=threshold, direction=direction, crossing=crossed)


DetectionRule = OutcomeRule | ThresholdRule
"""The detection rule object a trigger kind declares."""
