"""Typed models of the CI resources the triggers use, parsed from CI's real field names.

Each ``from_api`` raises :class:`UnexpectedResponseError` naming the field when a required
field is missing or has the wrong type; optional fields become ``None``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Mapping, overload

from .ci_errors import UnexpectedResponseError

TERMINAL_STATUSES = frozenset({"failed", "timedOut", "aborted", "deleted", "successful", "skipped"})
"""jobStatus / taskStatus values after which a job or task does not change any more."""


class _Reader:
    """Reads fields of one JSON object, naming the dotted path in errors."""

    def __init__(self, data: Any, path: str):
        if not isinstance(data, Mapping):
            raise UnexpectedResponseError(f"expected an object at '{path or '$'}'", field=path)
        self.data = data
        self.path = path

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, kinds: tuple[type, ...], required: bool) -> Any:
        value = self.data.get(key)
        if value is None:
            if required:
                raise UnexpectedResponseError(f"missing field '{self._name(key)}'", field=self._name(key))
            return None
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise UnexpectedResponseError(
                f"field '{self._name(key)}' has type {type(value).__name__}", field=self._name(key))
        return value

    @overload
    def text(self, key: str, *, required: Literal[True]) -> str: ...

    @overload
    def text(self, key: str, *, required: bool = False) -> str | None: ...

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self._get(key, (str,), required)
        if required and value == "":
            raise UnexpectedResponseError(f"empty field '{self._name(key)}'", field=self._name(key))
        return value

    def boolean(self, key: str) -> bool | None:
        return self._get(key, (bool,), False)

    def integer(self, key: str) -> int | None:
        return self._get(key, (int,), False)

    def timestamp(self, key: str) -> datetime | None:
        value = self.text(key)
        if value is None:
            return None
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UnexpectedResponseError(
                f"field '{self._name(key)}' is not a date-time: {value[:40]!r}", field=self._name(key)) from None

    def obj(self, key: str) -> "_Reader | None":
        value = self._get(key, (dict,), False)
        return None if value is None else _Reader(value, self._name(key))

    def objects(self, key: str) -> list["_Reader"]:
        values = self._get(key, (list,), False) or []
        return [_Reader(v, f"{self._name(key)}[{i}]") for i, v in enumerate(values)]

    def strings(self, key: str) -> list[str]:
        values = self._get(key, (list,), False) or []
        if not all(isinstance(v, str) for v in values):
            raise UnexpectedResponseError(f"field '{self._name(key)}' must list strings", field=self._name(key))
        return list(values)


def expect_list(payload: Any, what: str) -> list[Any]:
    """Return ``payload`` when it is a JSON array, else raise naming ``what``."""
    if not isinstance(payload, list):
        raise UnexpectedResponseError(f"expected a list of {what}, got {type(payload).__name__}", field="")
    return payload


@dataclass(frozen=True)
class CIErrorDetail:
    """A CI error result (``CIResult``) attached to a task or status node."""

    error_code: str | None
    message: str | None
    severity: str | None
    culprit: str | None

    @classmethod
    def parse(cls, r: _Reader | None) -> "CIErrorDetail | None":
        if r is None:
            return None
        return cls(r.text("errorCode"), r.text("message"), r.text("resultSeverity"), r.text("exceptionCulprit"))

    @classmethod
    def all_of(cls, r: _Reader) -> tuple["CIErrorDetail", ...]:
        """Every error of a task or status node: ``ciErrors`` (CI lists them all there), else the
        single ``ciError``."""
        listed = tuple(e for e in (cls.parse(item) for item in r.objects("ciErrors")) if e is not None)
        single = cls.parse(r.obj("ciError"))
        return listed or ((single,) if single else ())


@dataclass(frozen=True)
class Instance:
    """A CI instance (``InstanceInfo``)."""

    instance_id: str
    name: str | None
    instance_type: str | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any, path: str = "") -> "Instance":
        r = _Reader(data, path)
        return cls(r.text("instanceId", required=True).lower(), r.text("name"), r.text("instanceType"), dict(r.data))


@dataclass(frozen=True)
class DataSource:
    """A data source (``DataSourceInfo.dataSourceMetadata``) and its refresh state."""

    data_source_id: str
    name: str
    friendly_name: str | None
    kind: str | None
    refresh_state: str | None
    last_refresh: datetime | None
    is_active: bool | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any, path: str = "") -> "DataSource":
        outer = _Reader(data, path)
        r = outer.obj("dataSourceMetadata")
        if r is None:
            raise UnexpectedResponseError(
                f"missing field '{outer._name('dataSourceMetadata')}'", field=outer._name("dataSourceMetadata"))
        return cls(
            data_source_id=r.text("dataSourceId", required=True).lower(),
            name=r.text("name", required=True),
            friendly_name=r.text("friendlyName"),
            kind=r.text("kind"),
            refresh_state=r.text("refreshState"),
            last_refresh=r.timestamp("lastRefresh"),
            is_active=r.boolean("isActive"),
            raw=dict(r.data),
        )

    @property
    def display_name(self) -> str:
        return self.friendly_name or self.name


@dataclass(frozen=True)
class Task:
    """A workflow task (``GraphTaskInfo``)."""

    task_id: str
    task_status: str
    operation_type: str | None
    friendly_name: str | None
    job_ids: tuple[str, ...]
    submitted_at: datetime | None
    ended_at: datetime | None
    errors: tuple[CIErrorDetail, ...]
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any, path: str = "") -> "Task":
        r = _Reader(data, path)
        return cls(
            task_id=r.text("taskId", required=True).lower(),
            task_status=r.text("taskStatus", required=True),
            operation_type=r.text("operationType"),
            friendly_name=r.text("friendlyName"),
            job_ids=tuple(j.lower() for j in r.strings("jobIds")),
            submitted_at=r.timestamp("submittedTimestamp"),
            ended_at=r.timestamp("endTimestamp"),
            errors=CIErrorDetail.all_of(r),
            raw=dict(r.data),
        )

    @property
    def error(self) -> CIErrorDetail | None:
        """The first error, the one CI shows for the task."""
        return self.errors[0] if self.errors else None

    @property
    def is_terminal(self) -> bool:
        return self.task_status in TERMINAL_STATUSES


@dataclass(frozen=True)
class Job:
    """A workflow job (``GraphJobInfo``), with its tasks when requested."""

    job_id: str
    job_status: str
    operation_type: str | None
    submission_kind: str | None
    job_type: str | None
    identifiers: tuple[str, ...]
    submitted_at: datetime | None
    ended_at: datetime | None
    tasks: tuple[Task, ...]
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any, path: str = "") -> "Job":
        r = _Reader(data, path)
        return cls(
            job_id=r.text("jobId", required=True).lower(),
            job_status=r.text("jobStatus", required=True),
            operation_type=r.text("operationType"),
            submission_kind=r.text("jobSubmissionKind"),
            job_type=r.text("jobType"),
            identifiers=tuple(r.strings("idList")),
            submitted_at=r.timestamp("submittedTimestamp"),
            ended_at=r.timestamp("endTimestamp"),
            tasks=tuple(Task.from_api(t.data, t.path) for t in r.objects("tasks")),
            raw=dict(r.data),
        )

    @property
    def is_terminal(self) -> bool:
        return self.job_status in TERMINAL_STATUSES


@dataclass(frozen=True)
class StatusNode:
    """The latest state of one workflow node (``GraphNodeInfo``), e.g. one data source's ingestion."""

    operation_type: str
    identifier: str | None
    friendly_name: str | None
    task_status: str | None
    job_ids: tuple[str, ...]
    ended_at: datetime | None
    last_successful_at: datetime | None
    errors: tuple[CIErrorDetail, ...]
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any, path: str = "") -> "StatusNode":
        r = _Reader(data, path)
        return cls(
            operation_type=r.text("operationType", required=True),
            identifier=r.text("identifier"),
            friendly_name=r.text("friendlyName"),
            task_status=r.text("taskStatus"),
            job_ids=tuple(j.lower() for j in r.strings("jobIds")),
            ended_at=r.timestamp("endTimestamp"),
            last_successful_at=r.timestamp("lastSuccessfulTimestamp"),
            errors=CIErrorDetail.all_of(r),
            raw=dict(r.data),
        )


@dataclass(frozen=True)
class Segment:
    """A segment (``SegmentMetadata``); ``member_count`` is ``evaluationStatus.entityCount``."""

    name: str
    friendly_name: str | None
    state: str | None
    member_count: int | None
    evaluation_status: str | None
    evaluated_at: datetime | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any, path: str = "") -> "Segment":
        r = _Reader(data, path)
        status = r.obj("evaluationStatus")
        return cls(
            name=r.text("name", required=True),
            friendly_name=r.text("friendlyName"),
            state=r.text("state"),
            member_count=status.integer("entityCount") if status else None,
            evaluation_status=status.text("jobStatus") if status else None,
            evaluated_at=status.timestamp("evaluationDate") if status else None,
            raw=dict(r.data),
        )

    @property
    def display_name(self) -> str:
        return self.friendly_name or self.name


@dataclass(frozen=True)
class Measure:
    """A measure (``MeasureMetadata``); ``value`` is the output of a scalar measure, when evaluated
    (None for a measure with dimensions, whose output holds one value per dimension)."""

    name: str
    display_name: str | None
    is_scalar: bool
    value: float | None
    evaluation_state: str | None
    evaluated_at: datetime | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any, path: str = "") -> "Measure":
        r = _Reader(data, path)
        name = r.text("name", required=True)
        definition = r.obj("definition")
        evaluation = r.obj("latestEvaluation")
        output = r.obj("output")
        is_scalar = bool(definition and definition.boolean("isScalar"))
        return cls(
            name=name,
            display_name=r.text("displayName"),
            is_scalar=is_scalar,
            value=_scalar_value(output, name) if is_scalar else None,
            evaluation_state=evaluation.text("state") if evaluation else None,
            evaluated_at=output.timestamp("evaluationTime") if output else None,
            raw=dict(r.data),
        )


def _scalar_value(output: _Reader | None, measure_name: str) -> float | None:
    """The number in ``output.values``: its only entry, or the entry keyed by the measure name."""
    values = output.obj("values") if output else None
    if values is None or not values.data:
        return None
    if len(values.data) == 1:
        key = next(iter(values.data))
    elif measure_name in values.data:
        key = measure_name
    else:
        raise UnexpectedResponseError(
            f"field '{values.path}' has several values and none named '{measure_name}'", field=values.path)
    raw = values.data[key]
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise UnexpectedResponseError(
            f"field '{values.path}.{key}' is not a number: {str(raw)[:40]!r}", field=f"{values.path}.{key}") from None
