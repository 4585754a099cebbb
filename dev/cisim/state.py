"""In-memory model of CI instances: data sources, tables, segments, measures and workflow jobs.

Objects here hold simulator state only; ``serialize`` turns them into CI wire shapes and
``workflow`` drives jobs and their side effects.
"""
from __future__ import annotations

import itertools
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .errors import CIError


def utcnow() -> datetime:
    """Current UTC time (timezone-aware)."""
    return datetime.now(timezone.utc)


@dataclass
class Attribute:
    """A table column: ``data_type`` is one of string, dateTime, decimal, int64, boolean."""

    name: str
    data_type: str = "string"


@dataclass
class Table:
    """An entity with rows, served by ``/data`` and described by ``/manage/entities``."""

    name: str  # qualified entity name, e.g. eCommerce_eCommerceContacts or Customer
    entity_name: str  # short name, e.g. eCommerceContacts
    entity_type: str  # IEntityMetadata.entityType
    dataflow_type: str  # IEntityMetadata.dataflowType
    attributes: list[Attribute]
    primary_key: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    data_source_id: str | None = None
    data_source_name: str | None = None
    timestamp_attribute: str | None = None
    refresh_time: datetime = field(default_factory=utcnow)

    @property
    def is_source(self) -> bool:
        """Whether this is an ingested source table (no ``$filter`` allowed)."""
        return self.data_source_id is not None

    def attribute(self, name: str) -> Attribute | None:
        """The column called ``name``, if any."""
        return next((a for a in self.attributes if a.name == name), None)

    def find_row(self, key: str) -> dict[str, Any] | None:
        """The row whose primary key equals ``key``."""
        return next((r for r in self.rows if str(r.get(self.primary_key)) == key), None)


@dataclass
class DataSource:
    """A data source (``DataSourceMetadata``)."""

    id: str
    name: str
    friendly_name: str
    kind: str
    entity_names: list[str]
    created: datetime
    refresh_state: str = "notUpdated"
    last_refresh: datetime | None = None
    updated: datetime | None = None
    version: int = 1
    model_json_path: str | None = None


@dataclass
class SegmentEvaluation:
    """One past segment evaluation (``HistoricalSegmentStats``)."""

    date: datetime
    count: int
    status: str


@dataclass
class Segment:
    """A segment with its latest evaluation (``SegmentMetadata``)."""

    name: str
    friendly_name: str
    description: str
    created: datetime
    state: str = "active"
    job_status: str = "None"  # SegmentationPublishStats.jobStatus
    evaluation_date: datetime | None = None
    entity_count: int = 0
    last_run_id: str | None = None
    error: str | None = None
    criteria: tuple[str, str, str] = ("Customer.Country", "equals", "US")
    history: list[SegmentEvaluation] = field(default_factory=list)
    rowset_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    updated: datetime | None = None
    version: int = 1


@dataclass
class MeasureEvaluation:
    """One past measure evaluation (``Evaluation`` + ``ScalarOutput``)."""

    time: datetime
    state: str
    values: dict[str, str]
    run_id: str | None
    error: str | None = None


@dataclass
class Measure:
    """A measure (``MeasureMetadata``); ``values`` is ``output.values``.

    Scalar measures use the measure name as the single key of ``values``; dimensioned
    measures use one key per dimension value.
    """

    name: str
    display_name: str
    description: str
    created: datetime
    is_scalar: bool = True
    is_profile: bool = False
    dimension: str | None = None
    aggregate: tuple[str, str] = ("sum", "TotalPrice")  # (operation, field)
    values: dict[str, str] = field(default_factory=dict)
    state: str = "none"  # Evaluation.state
    evaluation_time: datetime | None = None
    end_time: datetime | None = None
    last_run_id: str | None = None
    last_successful: datetime | None = None
    failure_count: int = 0
    error: str | None = None
    history: list[MeasureEvaluation] = field(default_factory=list)
    updated: datetime | None = None
    version: int = 1


@dataclass
class Task:
    """A workflow task (``GraphTaskInfo``)."""

    id: str
    job_id: str
    operation_type: str
    identifier: str
    friendly_name: str
    submitted: datetime
    status: str = "queued"
    end: datetime | None = None
    error: dict[str, Any] | None = None  # CIResult
    kind: str | None = None  # additionalInfo.kind
    started: datetime | None = None
    created_seq: int = 0  # creation order; the newest task per node defines its status
    seq: int = 0  # order of the last status change; history sorts on it

    @property
    def key(self) -> tuple[str, str]:
        """The status-node key (operationType, identifier)."""
        return self.operation_type, self.identifier


@dataclass
class Job:
    """A workflow job (``GraphJobInfo``)."""

    id: str
    operation_type: str
    submission_kind: str
    job_type: str
    submitted: datetime
    identifiers: list[str]
    tasks: list[Task]
    status: str = "queued"
    end: datetime | None = None
    force_run: bool = False
    options: dict[str, Any] | None = None
    fail_task: str | None = None  # control API: the task spec that fails when advanced
    fail_message: str | None = None

    @property
    def running_task(self) -> Task | None:
        """The task currently running."""
        return next((t for t in self.tasks if t.status == "running"), None)

    @property
    def is_finished(self) -> bool:
        """Whether the job reached a terminal status."""
        return self.status not in ("queued", "running")


@dataclass
class KeyRing:
    """The source keys unified into one customer."""

    customer_id: str
    keys: list[tuple[str, str, str]]  # (dataSourceName, entityName, key)


@dataclass
class Schedule:
    """The instance's refresh schedule (``WorkflowRefreshSchedule``)."""

    id: str
    cron: list[str]
    timezone_id: str = "UTC"
    is_active: bool = True


@dataclass
class Instance:
    """A CI instance and everything in it."""

    id: str
    name: str
    created: datetime
    instance_type: str = "production"
    region: str = "westus2"
    data_sources: dict[str, DataSource] = field(default_factory=dict)  # by id
    tables: dict[str, Table] = field(default_factory=dict)  # by qualified name
    segments: dict[str, Segment] = field(default_factory=dict)
    measures: dict[str, Measure] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)
    keyrings: list[KeyRing] = field(default_factory=list)
    schedule: Schedule | None = None
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)

    def next_seq(self) -> int:
        """A new, increasing sequence number for task ordering."""
        return next(self._seq)

    def data_source(self, ref: str) -> DataSource:
        """A data source by id or (case-insensitive) name; 404 otherwise."""
        found = self.find_data_source(ref)
        if found is None:
            raise CIError(404, "dataSourceNotFound", f"Data source '{ref}' was not found.")
        return found

    def find_data_source(self, ref: str) -> DataSource | None:
        """A data source by id or (case-insensitive) name."""
        ref = ref.strip().lower()
        return self.data_sources.get(ref) or next(
            (ds for ds in self.data_sources.values() if ds.name.lower() == ref), None)

    def table(self, name: str) -> Table | None:
        """A table by qualified name (exact, as OData is case-sensitive)."""
        return self.tables.get(name)

    def job(self, job_id: str) -> Job:
        """A job by id; 404 otherwise."""
        job_id = job_id.strip().lower()
        found = next((j for j in self.jobs if j.id == job_id), None)
        if found is None:
            raise CIError(404, "jobNotFound", f"Workflow job '{job_id}' was not found.")
        return found

    def segment(self, name: str) -> Segment:
        """A segment by name; 404 otherwise."""
        if name not in self.segments:
            raise CIError(404, "segmentNotFound", f"Segment '{name}' was not found.")
        return self.segments[name]

    def measure(self, name: str) -> Measure:
        """A measure by name; 404 otherwise."""
        if name not in self.measures:
            raise CIError(404, "measureNotFound", f"Measure '{name}' was not found.")
        return self.measures[name]


class Store:
    """All simulator state plus switches, guarded by one re-entrant lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.instances: dict[str, Instance] = {}
        self.next_link = False

    def instance(self, instance_id: str) -> Instance:
        """An instance by id; 404 otherwise."""
        found = self.instances.get(instance_id.strip().lower())
        if found is None:
            raise CIError(404, "instanceNotFound", f"Instance '{instance_id}' was not found.")
        return found

    def add(self, instance: Instance) -> Instance:
        """Register ``instance`` (replacing one with the same id)."""
        self.instances[instance.id] = instance
        return instance
