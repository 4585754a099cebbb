"""State mutations shared by the sample builder and the control API."""
from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime
from typing import Any, Iterable, Mapping

from .errors import ControlError
from .state import (
    Attribute,
    DataSource,
    Instance,
    Measure,
    MeasureEvaluation,
    Segment,
    SegmentEvaluation,
    Table,
    utcnow,
)

DATA_SOURCE_KINDS = ("salesforce", "dynamics365", "powerQuery", "attachCdm", "attachSynapse", "attachCds",
                     "powerPlatform", "datahub", "firstParty")
REFRESH_STATES = ("notUpdated", "updated", "updating", "updateFailed", "updateCancelled")
SEGMENT_STATES = ("inactive", "active", "validating", "validated", "invalid", "validationError")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ControlError(400, f"Invalid {what} name {name!r}: use letters, digits and '_'.")


def _choice(value: str, allowed: Iterable[str], what: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ControlError(400, f"Invalid {what} {value!r}; expected one of {', '.join(allowed)}.")
    return value


def add_data_source(inst: Instance, name: str, *, friendly_name: str | None = None, kind: str = "powerQuery",
                    entities: Iterable[str] = ("Contacts",), refresh_state: str = "notUpdated",
                    ds_id: str | None = None, now: datetime | None = None) -> DataSource:
    """Add a data source with one empty source table per entity (columns Id, Name, Email, CreatedOn)."""
    now = now or utcnow()
    _check_name(name, "data source")
    if inst.find_data_source(name):
        raise ControlError(409, f"Data source '{name}' already exists.")
    entities = list(entities)
    for entity in entities:
        _check_name(entity, "entity")
    ds = DataSource(id=ds_id or str(uuid.uuid4()), name=name, friendly_name=friendly_name or name,
                    kind=_choice(kind, DATA_SOURCE_KINDS, "kind"), entity_names=entities, created=now,
                    refresh_state=_choice(refresh_state, REFRESH_STATES, "refresh_state"),
                    last_refresh=now if refresh_state not in ("notUpdated", "updating") else None)
    inst.data_sources[ds.id] = ds
    for entity in entities:
        add_source_table(inst, ds, entity, [Attribute("Id"), Attribute("Name"), Attribute("Email"),
                                            Attribute("CreatedOn", "dateTime")], "Id")
    return ds


def add_source_table(inst: Instance, ds: DataSource, entity: str, attributes: list[Attribute], primary_key: str,
                     rows: list[dict[str, Any]] | None = None, entity_type: str = "unspecified",
                     timestamp_attribute: str | None = None) -> Table:
    """Register the source table ``{ds.name}_{entity}``."""
    table = Table(name=f"{ds.name}_{entity}", entity_name=entity, entity_type=entity_type, dataflow_type=ds.kind,
                  attributes=attributes, primary_key=primary_key, rows=rows or [], data_source_id=ds.id,
                  data_source_name=ds.name, timestamp_attribute=timestamp_attribute,
                  refresh_time=ds.last_refresh or ds.created)
    inst.tables[table.name] = table
    return table


def delete_data_source(inst: Instance, ref: str) -> None:
    """Remove a data source and its source tables."""
    ds = inst.find_data_source(ref)
    if ds is None:
        raise ControlError(404, f"Data source '{ref}' not found.")
    del inst.data_sources[ds.id]
    for name in [n for n, t in inst.tables.items() if t.data_source_id == ds.id]:
        del inst.tables[name]


def _customer_ids(inst: Instance) -> list[str]:
    customer = inst.table("Customer")
    return [str(r["CustomerId"]) for r in customer.rows] if customer else []


def add_segment(inst: Instance, name: str, *, friendly_name: str | None = None, description: str = "",
                state: str = "active", count: int = 0, members: list[str] | None = None,
                criteria: tuple[str, str, str] | None = None, now: datetime | None = None) -> Segment:
    """Add a segment; an active one is evaluated at once with ``count`` members (or ``members``)."""
    now = now or utcnow()
    _check_name(name, "segment")
    if name in inst.segments or name in inst.tables:
        raise ControlError(409, f"Segment or entity '{name}' already exists.")
    seg = Segment(name=name, friendly_name=friendly_name or name, description=description, created=now,
                  state=_choice(state, SEGMENT_STATES, "state"))
    if criteria:
        seg.criteria = criteria
    inst.segments[name] = seg
    if state == "active":
        inst.tables[name] = Table(name=name, entity_name=name, entity_type="segment", dataflow_type="segmentation",
                                  attributes=[Attribute("CustomerId")], primary_key="CustomerId", refresh_time=now)
        if members is not None:
            _set_members(inst, seg, members)
            _record_segment(seg, len(members), now)
        else:
            set_segment_count(inst, name, count, now=now)
    return seg


def _set_members(inst: Instance, seg: Segment, members: list[str]) -> None:
    inst.tables[seg.name].rows = [{"CustomerId": cid} for cid in members]


def _record_segment(seg: Segment, count: int, now: datetime) -> None:
    seg.entity_count, seg.job_status, seg.evaluation_date, seg.error = count, "CompletedSuccess", now, None
    seg.updated = now
    seg.history.append(SegmentEvaluation(now, count, "CompletedSuccess"))


def set_segment_count(inst: Instance, name: str, count: object, now: datetime | None = None) -> Segment:
    """Record a successful evaluation with ``count`` members.

    The segment table keeps its current members when shrinking and adds customers in a fixed
    per-segment order when growing; it is capped at the number of customers, while
    ``evaluationStatus.entityCount`` and ``entitysize.rowCount`` report ``count`` itself.
    """
    now = now or utcnow()
    seg = inst.segment(name)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ControlError(400, "count must be a non-negative integer.")
    table = inst.tables.get(name)
    if table is not None:
        current = [str(r["CustomerId"]) for r in table.rows]
        if count <= len(current):
            members = current[:count]
        else:
            taken = set(current)
            order = sorted((c for c in _customer_ids(inst) if c not in taken),
                           key=lambda c: hashlib.sha1(f"{name}:{c}".encode()).hexdigest())
            members = current + order[: count - len(current)]
        _set_members(inst, seg, members)
        table.refresh_time = now
    _record_segment(seg, count, now)
    return seg


def delete_segment(inst: Instance, name: str) -> None:
    """Remove a segment and its table."""
    inst.segment(name)
    del inst.segments[name]
    inst.tables.pop(name, None)


def add_measure(inst: Instance, name: str, *, display_name: str | None = None, description: str = "",
                is_scalar: bool = True, dimension: str | None = None, is_profile: bool = False,
                value: Any = None, values: Mapping[str, Any] | None = None,
                aggregate: tuple[str, str] = ("sum", "TotalPrice"), now: datetime | None = None) -> Measure:
    """Add a measure; scalar ones get their own one-row table, dimensioned ones one row per key."""
    now = now or utcnow()
    _check_name(name, "measure")
    if name in inst.measures or name in inst.tables:
        raise ControlError(409, f"Measure or entity '{name}' already exists.")
    if not is_scalar and not is_profile and not dimension:
        dimension = "Country"
    measure = Measure(name=name, display_name=display_name or name, description=description, created=now,
                      is_scalar=is_scalar and not is_profile, is_profile=is_profile,
                      dimension=None if is_scalar or is_profile else dimension, aggregate=aggregate)
    inst.measures[name] = measure
    if not is_profile:
        columns = [Attribute(name, "decimal")] if measure.is_scalar else [Attribute(measure.dimension or ""),
                                                                            Attribute(name, "decimal")]
        inst.tables[name] = Table(name=name, entity_name=name, entity_type="aggregateKpi", dataflow_type="kpi",
                                  attributes=columns, primary_key=columns[0].name, refresh_time=now)
    if value is not None or values is not None:
        set_measure_value(inst, name, value=value, values=values, now=now)
    return measure


def set_measure_value(inst: Instance, name: str, *, value: Any = None, values: Mapping[str, Any] | None = None,
                      now: datetime | None = None) -> Measure:
    """Record a successful evaluation producing ``value`` (scalar) or ``values`` (per dimension key)."""
    now = now or utcnow()
    measure = inst.measure(name)
    if measure.is_profile:
        raise ControlError(400, f"Measure '{name}' is a customer measure; it has no output values.")
    if measure.is_scalar:
        if value is None or isinstance(value, (dict, list, bool)):
            raise ControlError(400, "A scalar measure needs 'value' (number or string).")
        new_values = {name: str(value)}
    else:
        if not isinstance(values, Mapping) or not values:
            raise ControlError(400, "A dimensioned measure needs 'values' (object of dimension key -> value).")
        new_values = {str(k): str(v) for k, v in values.items()}
    measure.values = new_values
    measure.state, measure.error, measure.failure_count = "completed", None, 0
    measure.evaluation_time = measure.end_time = measure.last_successful = measure.updated = now
    measure.history.append(MeasureEvaluation(now, "completed", dict(new_values), measure.last_run_id))
    table = inst.tables.get(name)
    if table is not None:
        if measure.is_scalar:
            table.rows = [{name: _number(new_values[name])}]
        else:
            table.rows = [{measure.dimension or "": k, name: _number(v)} for k, v in new_values.items()]
        table.refresh_time = now
    return measure


def delete_measure(inst: Instance, name: str) -> None:
    """Remove a measure and its table."""
    inst.measure(name)
    del inst.measures[name]
    inst.tables.pop(name, None)


def _number(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number
