"""Workflow engine: plans jobs into tasks, runs them one task at a time and applies side effects.

Tasks run strictly in list order. A failing task fails its job and skips the rest; cancelling
aborts the running task and skips the queued ones. Every task transition updates the object it
works on: ingestion drives a data source's ``refreshState``/``lastRefresh``, segmentation a
segment's ``evaluationStatus``, measures a measure's ``latestEvaluation``.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from .errors import CIError, ControlError
from .state import Instance, Job, MeasureEvaluation, SegmentEvaluation, Task, utcnow

UNIFICATION = ("map", "match", "merge")
UNIFIED_IDENTIFIER = "Customer"
DATA_SOURCE_OPS = ("ingestion", "dataPreparation")
GRAPH_OPS = (*DATA_SOURCE_OPS, *UNIFICATION, "segmentation", "measures")
TASK_KINDS = {"segmentation": "segmentation", "measures": "measures", "merge": "merge"}
FAILURE_CODES = {
    "ingestion": "datasourceIngestionUnexpectedError",
    "dataPreparation": "refreshDataPreparationFailed",
    "map": "matchMergeOrchestrationFailed",
    "match": "matchMergeOrchestrationFailed",
    "merge": "matchMergeOrchestrationFailed",
    "segmentation": "segmentEvaluationOrchestrationFailed",
    "measures": "measuresProcessingOrchestrationFailed",
}
OPERATION_TYPES = (
    "none", "ingestion", "derivedEntity", "hierarchy", "dataPreparation", "map", "realtimeM3Search",
    "match", "merge", "profileStore", "search", "activity", "contact", "attributeMeasures",
    "entityMeasures", "measures", "segmentation", "segmentMembership", "enrichment", "preEnrichment",
    "transform", "intelligence", "aiBuilder", "insights", "export", "modelManagement", "relationship",
    "roleAssignment", "analysis", "semanticEntity", "all")


def canonical_operation_type(value: str) -> str:
    """The exact enum value for a case-insensitive ``operationType``; 400 if unknown."""
    found = next((op for op in OPERATION_TYPES if op.lower() == value.strip().lower()), None)
    if found is None:
        raise CIError(400, "invalidOperationType", f"Unknown operationType '{value}'.")
    return found


def ci_result(error_code: str, message: str, culprit: str = "system") -> dict[str, Any]:
    """A ``CIResult`` describing a failure."""
    return {"exceptionCulprit": culprit, "errorCode": error_code, "resultSeverity": "error",
            "message": message, "params": {}, "ciResults": []}


def _plan(inst: Instance, operation_type: str, identifiers: list[str]) -> list[tuple[str, str, str]]:
    """(operationType, identifier, friendlyName) of each task of a new job, in run order."""
    def data_sources(op: str) -> list[tuple[str, str, str]]:
        chosen = [inst.data_source(i) for i in identifiers] if identifiers else list(inst.data_sources.values())
        return [(op, ds.id, ds.friendly_name) for ds in chosen]

    def segments() -> list[tuple[str, str, str]]:
        chosen = ([inst.segment(i) for i in identifiers] if identifiers
                  else [s for s in inst.segments.values() if s.state == "active"])
        return [("segmentation", s.name, s.friendly_name) for s in chosen]

    def measures() -> list[tuple[str, str, str]]:
        chosen = [inst.measure(i) for i in identifiers] if identifiers else list(inst.measures.values())
        return [("measures", m.name, m.display_name) for m in chosen]

    def unification(upto: str) -> list[tuple[str, str, str]]:
        steps = UNIFICATION[: UNIFICATION.index(upto) + 1]
        return [(op, UNIFIED_IDENTIFIER, op.capitalize()) for op in steps]

    if operation_type == "all":
        if identifiers:
            raise CIError(400, "invalidIdentifiers", "identifiers are not allowed with operationType 'all'.")
        return [*data_sources("ingestion"), *data_sources("dataPreparation"), *unification("merge"),
                *segments(), *measures()]
    if operation_type in DATA_SOURCE_OPS:
        return data_sources(operation_type)
    if operation_type in UNIFICATION:
        return unification(operation_type)
    if operation_type == "segmentation":
        return segments()
    if operation_type == "measures":
        return measures()
    return [(operation_type, i, i) for i in identifiers] or [(operation_type, "", operation_type)]


def create(inst: Instance, operation_type: str, identifiers: Iterable[str] = (), *,
           submission_kind: str = "onDemand", job_type: str = "full", force_run: bool = False,
           options: dict[str, Any] | None = None, now: datetime | None = None) -> Job:
    """Plan a job and queue its tasks without starting it (``start`` does that)."""
    now = now or utcnow()
    ids = [i for i in identifiers if i]
    planned = _plan(inst, operation_type, ids)
    if operation_type in DATA_SOURCE_OPS and ids:
        ids = [inst.data_source(i).id for i in ids]
    job_id = str(uuid.uuid4())
    tasks = [Task(id=str(uuid.uuid4()), job_id=job_id, operation_type=op, identifier=ident,
                  friendly_name=name, submitted=now, kind=TASK_KINDS.get(op), created_seq=inst.next_seq())
             for op, ident, name in planned]
    job = Job(id=job_id, operation_type=operation_type, submission_kind=submission_kind, job_type=job_type,
              submitted=now, identifiers=ids, tasks=tasks, force_run=force_run, options=options)
    inst.jobs.append(job)
    return job


def start(inst: Instance, job: Job, now: datetime | None = None) -> Job:
    """Mark a created job running and start its first task (a job without tasks succeeds at once)."""
    job.status = "running"
    _start_next(inst, job, now or job.submitted)
    return job


def submit(inst: Instance, operation_type: str, identifiers: Iterable[str] = (), *,
           submission_kind: str = "onDemand", job_type: str = "full", force_run: bool = False,
           options: dict[str, Any] | None = None, now: datetime | None = None) -> Job:
    """Create a job and start its first task."""
    job = create(inst, operation_type, identifiers, submission_kind=submission_kind, job_type=job_type,
                 force_run=force_run, options=options, now=now)
    return start(inst, job, now)


def advance(inst: Instance, job: Job, *, fail: bool = False, message: str | None = None,
            now: datetime | None = None) -> Job:
    """Finish the running task and start the next one.

    The task fails (failing the job and skipping the rest) when ``fail`` is set or it matches
    the job's ``fail_task``.
    """
    now = now or utcnow()
    task = job.running_task
    if task is None:
        raise ControlError(409, f"Job {job.id} has no running task (status {job.status}).")
    if fail or (job.fail_task and matches(inst, task, job.fail_task)):
        error = ci_result(FAILURE_CODES.get(task.operation_type, "apiInternalError"),
                          message or job.fail_message
                          or f"{task.operation_type} task for '{task.friendly_name}' failed.")
        _finish(inst, task, "failed", now, error)
        _close(inst, job, "failed", now)
    else:
        _finish(inst, task, "successful", now)
        _start_next(inst, job, now)
    return job


def run_to_end(inst: Instance, job: Job, now: datetime | None = None) -> Job:
    """Advance ``job`` until it finishes (honouring its ``fail_task``)."""
    while not job.is_finished:
        advance(inst, job, now=now)
    return job


def cancel(inst: Instance, job: Job, now: datetime | None = None) -> Job:
    """Abort the running task and skip the queued ones; a finished job is returned unchanged."""
    if job.is_finished:
        return job
    now = now or utcnow()
    task = job.running_task
    if task is not None:
        _finish(inst, task, "aborted", now)
    _close(inst, job, "aborted", now)
    return job


def matches(inst: Instance, task: Task, spec: str) -> bool:
    """Whether ``task`` matches ``operationType`` or ``operationType:identifier`` (case-insensitive).

    For ingestion/dataPreparation the identifier may be the data source id or name.
    """
    op, _, ident = spec.partition(":")
    if op.strip().lower() != task.operation_type.lower():
        return False
    if not ident:
        return True
    if task.operation_type in DATA_SOURCE_OPS:
        ds = inst.find_data_source(ident)
        return ds is not None and ds.id == task.identifier
    return ident.strip().lower() in (task.identifier.lower(), task.friendly_name.lower())


def _start_next(inst: Instance, job: Job, now: datetime) -> None:
    nxt = next((t for t in job.tasks if t.status == "queued"), None)
    if nxt is None:
        _close(inst, job, "successful", now)
        return
    nxt.status, nxt.started, nxt.seq = "running", now, inst.next_seq()
    _apply(inst, nxt, now)


def _finish(inst: Instance, task: Task, status: str, now: datetime, error: dict[str, Any] | None = None) -> None:
    task.status, task.end, task.error, task.seq = status, now, error, inst.next_seq()
    _apply(inst, task, now)


def _close(inst: Instance, job: Job, status: str, now: datetime) -> None:
    for task in job.tasks:
        if task.status == "queued":
            task.status, task.end, task.seq = "skipped", now, inst.next_seq()
    job.status, job.end = status, now


def _apply(inst: Instance, task: Task, now: datetime) -> None:
    """Side effects of a task status change on the object the task works on."""
    message = (task.error or {}).get("message")
    if task.operation_type == "ingestion" and task.identifier in inst.data_sources:
        ds = inst.data_sources[task.identifier]
        states = {"running": "updating", "successful": "updated", "failed": "updateFailed",
                  "aborted": "updateCancelled"}
        if task.status in states:
            ds.refresh_state = states[task.status]
            if task.status != "running":
                ds.last_refresh = ds.updated = now
    elif task.operation_type == "segmentation" and task.identifier in inst.segments:
        seg = inst.segments[task.identifier]
        states = {"running": "Running", "successful": "CompletedSuccess", "failed": "CompletedFailure",
                  "aborted": "Cancelled"}
        if task.status in states:
            seg.job_status = states[task.status]
        if task.status in ("successful", "failed"):
            seg.evaluation_date, seg.error = now, message
            if task.status == "successful":
                seg.last_run_id = task.job_id
            seg.history.append(SegmentEvaluation(now, seg.entity_count, seg.job_status))
    elif task.operation_type == "measures" and task.identifier in inst.measures:
        measure = inst.measures[task.identifier]
        states = {"running": "running", "successful": "completed", "failed": "failed", "aborted": "none"}
        if task.status in states:
            measure.state = states[task.status]
        if task.status == "successful":
            measure.evaluation_time = task.started or now
            measure.end_time = measure.last_successful = now
            measure.last_run_id, measure.failure_count, measure.error = task.job_id, 0, None
        elif task.status == "failed":
            measure.end_time, measure.error = now, message
            measure.failure_count += 1
        if task.status in ("successful", "failed"):
            measure.history.append(MeasureEvaluation(now, measure.state, dict(measure.values),
                                                     task.job_id, measure.error))


@dataclass
class Node:
    """A status node: the newest task for one (operationType, identifier)."""

    operation_type: str
    identifier: str
    friendly_name: str
    latest: Task | None
    latest_job: Job | None
    last_success: Task | None


def status_nodes(inst: Instance) -> list[Node]:
    """One node per graph element (data sources, unification, active segments, measures) plus
    one per other (operationType, identifier) that ever ran."""
    latest: dict[tuple[str, str], tuple[Task, Job]] = {}
    success: dict[tuple[str, str], Task] = {}
    for job in inst.jobs:
        for task in job.tasks:
            if task.key not in latest or task.created_seq > latest[task.key][0].created_seq:
                latest[task.key] = (task, job)
            if task.status == "successful" and (task.key not in success or task.seq > success[task.key].seq):
                success[task.key] = task
    graph = [(op, ds.id, ds.friendly_name) for op in DATA_SOURCE_OPS for ds in inst.data_sources.values()]
    graph += [(op, UNIFIED_IDENTIFIER, op.capitalize()) for op in UNIFICATION]
    graph += [("segmentation", s.name, s.friendly_name) for s in inst.segments.values() if s.state == "active"]
    graph += [("measures", m.name, m.display_name) for m in inst.measures.values()]
    graph += [(t.operation_type, t.identifier, t.friendly_name) for t, _ in latest.values()
              if t.operation_type not in GRAPH_OPS]
    nodes = []
    for op, ident, name in graph:
        newest = latest.get((op, ident))
        newest_task, newest_job = newest if newest is not None else (None, None)
        nodes.append(Node(op, ident, name, newest_task, newest_job, success.get((op, ident))))
    return nodes


def history(inst: Instance) -> list[Task]:
    """Tasks that left the queue, most recently changed first."""
    tasks = [t for job in inst.jobs for t in job.tasks if t.status != "queued"]
    return sorted(tasks, key=lambda t: t.seq, reverse=True)


def jobs_newest_first(inst: Instance) -> list[Job]:
    """Jobs ordered by submission time, newest first."""
    ordered = sorted(enumerate(inst.jobs), key=lambda p: (p[1].submitted, p[0]), reverse=True)
    return [job for _, job in ordered]
