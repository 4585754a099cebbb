"""``CustomerInsightsClient``: the CI API v1 operations this app uses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import quote

import requests

from ..settings import CustomerInsightsSettings
from .auth import TokenSource
from .ci_errors import UnexpectedResponseError
from .models import DataSource, Instance, Job, Measure, Segment, StatusNode, Task, expect_list
from .retry import RetryPolicy
from .transport import Transport

MAX_PAGE_SIZE = 100
"""CI returns at most 100 rows per data query."""

DOCUMENTED_OPERATION_TYPES = {"ingestion": "Ingestion"}
"""``operationType`` spellings the current docs show (OData examples, "Refresh a data source");
``all`` is lowercase there too. Values the docs do not show keep the code model's enum spelling."""

@dataclass(frozen=True)
class DataPage:
    """One page of an OData data query (``ODataEntityPayload``)."""

    rows: list[dict]
    count: int | None
    next_link: str | None


def _segment(value: str) -> str:
    return quote(value, safe="")


class CustomerInsightsClient:
    """Client of the Customer Insights API v1.

    Every call carries the Entra ID token and the ``Ocp-Apim-Subscription-Key``, has a timeout,
    and retries 429/502/503/504 and connection errors within the retry budget; failures raise
    subclasses of :class:`~ciconnector.customer_insights.ci_errors.CustomerInsightsError`.
    """

    def __init__(self, settings: CustomerInsightsSettings, *, session: requests.Session | None = None,
                 retry_policy: RetryPolicy | None = None, tokens: TokenSource | None = None):
        self._settings = settings
        self._transport = Transport(settings, session=session, policy=retry_policy, tokens=tokens)

    def _get(self, path: str, **params: Any) -> Any:
        query = {k: _query_value(v) for k, v in params.items() if v is not None}
        return self._transport.request("GET", self._transport.url(path), params=query or None)

    def _instance(self, instance_id: str) -> str:
        return f"instances/{_segment(instance_id)}"

    def _workflow(self, instance_id: str) -> str:
        return (f"{self._instance(instance_id)}/{self._settings.workflow_path}/"
                f"{_segment(self._settings.workflow_name)}")

    # Instances
    def list_instances(self) -> list[Instance]:
        """All instances the app registration can see."""
        payload = expect_list(self._get("instances"), "instances")
        return [Instance.from_api(item, f"[{i}]") for i, item in enumerate(payload)]

    def get_instance(self, instance_id: str) -> dict:
        """An instance's metadata (``InstanceMetadata``)."""
        return _expect_object(self._get(self._instance(instance_id)))

    # Data sources
    def list_data_sources(self, instance_id: str) -> list[DataSource]:
        """An instance's data sources with their refresh state."""
        payload = expect_list(self._get(f"{self._instance(instance_id)}/manage/datasources"), "data sources")
        return [DataSource.from_api(item, f"[{i}]") for i, item in enumerate(payload)]

    def get_data_source(self, instance_id: str, data_source_id: str) -> DataSource:
        """One data source."""
        return DataSource.from_api(
            self._get(f"{self._instance(instance_id)}/manage/datasources/{_segment(data_source_id)}"))

    # Entities and data
    def list_entities(self, instance_id: str) -> list[dict]:
        """Metadata of every entity (table) of an instance (``IEntityMetadata``)."""
        model = _expect_object(self._get(f"{self._instance(instance_id)}/manage/entities"))
        entities = model.get("entities") or []
        if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
            raise UnexpectedResponseError("field 'entities' must list objects", field="entities")
        return entities

    def get_entity(self, instance_id: str, entity_name: str) -> dict:
        """Metadata of one entity, including its partitions."""
        return _expect_object(self._get(f"{self._instance(instance_id)}/manage/entities/{_segment(entity_name)}"))

    def query_data(self, instance_id: str, relative_path: str, *, filter: str | None = None,
                   select: str | None = None, orderby: str | None = None, expand: str | None = None,
                   search: str | None = None, force_search: bool | None = None,
                   top: int | None = None, skip: int | None = None) -> DataPage:
        """One page of an OData query on ``data/{relative_path}`` (at most 100 rows)."""
        path = "/".join(_segment(part) for part in relative_path.strip("/").split("/"))
        payload = self._get(f"{self._instance(instance_id)}/data/{path}", **{
            "$filter": filter, "$select": select, "$orderby": orderby, "$expand": expand,
            "$search": search, "forceSearch": force_search, "$top": top, "$skip": skip})
        return _page(payload)

    def list_data(self, instance_id: str, entity_name: str, *, filter: str | None = None,
                  select: str | None = None, orderby: str | None = None, skip: int = 0,
                  max_items: int | None = None) -> Iterator[dict]:
        """The rows of a query from row ``skip`` on, page by page, at most ``max_items`` of them.

        With ``max_items`` each request asks ``$top`` for what is still wanted (at most 100, CI's
        page size); without it CI picks the page size. Follows ``@odata.nextLink`` when CI sends
        one; otherwise advances ``$skip`` until ``@odata.count`` rows were read or a page is empty.
        """
        yielded = 0
        position = skip

        def fetch() -> DataPage:
            want = None if max_items is None else min(MAX_PAGE_SIZE, max_items - yielded)
            return self.query_data(instance_id, entity_name, filter=filter, select=select, orderby=orderby,
                                   top=want, skip=position or None)

        page = fetch()
        while True:
            for row in page.rows:
                if max_items is not None and yielded >= max_items:
                    return
                yield row
                yielded += 1
            position += len(page.rows)
            if max_items is not None and yielded >= max_items:
                return
            if page.next_link:
                if not self._transport.same_origin(page.next_link):
                    raise UnexpectedResponseError("'@odata.nextLink' points at another host",
                                                  field="@odata.nextLink")
                page = _page(self._transport.request("GET", page.next_link))
                continue
            if not page.rows or (page.count is not None and position >= page.count):
                return
            page = fetch()

    def create_item(self, instance_id: str, entity_name: str, item: dict) -> Any:
        """Create a row (Preview in CI); returns CI's ``CreatedResult``/``AcceptedResult``."""
        return self._transport.request(
            "POST", self._transport.url(f"{self._instance(instance_id)}/data/{_segment(entity_name)}"), body=item)

    def update_item(self, instance_id: str, entity_name: str, item_id: str, changes: dict) -> None:
        """Update a row (Preview in CI)."""
        self._transport.request("PATCH", self._transport.url(
            f"{self._instance(instance_id)}/data/{_segment(entity_name)}/{_segment(item_id)}"), body=changes)

    # Workflows
    def list_jobs(self, instance_id: str, *, top: int | None = None, include_tasks: bool = False) -> list[Job]:
        """Recent workflow jobs, newest first."""
        payload = expect_list(self._get(f"{self._workflow(instance_id)}/jobs", top=top,
                                        includeTasks=include_tasks or None), "jobs")
        return [Job.from_api(item, f"[{i}]") for i, item in enumerate(payload)]

    def get_job(self, instance_id: str, job_id: str, *, include_tasks: bool = True) -> Job:
        """One workflow job."""
        return Job.from_api(self._get(f"{self._workflow(instance_id)}/jobs/{_segment(job_id)}",
                                      includeTasks=include_tasks))

    def list_task_history(self, instance_id: str, *, top: int | None = None) -> list[Task]:
        """Recent workflow tasks."""
        payload = expect_list(self._get(f"{self._workflow(instance_id)}/history", top=top), "tasks")
        return [Task.from_api(item, f"[{i}]") for i, item in enumerate(payload)]

    def get_workflow_status(self, instance_id: str) -> list[StatusNode]:
        """The latest state of every workflow node."""
        payload = expect_list(self._get(f"{self._workflow(instance_id)}/status"), "status nodes")
        return [StatusNode.from_api(item, f"[{i}]") for i, item in enumerate(payload)]

    def submit_job(self, instance_id: str, *, operation_type: str, identifiers: list[str] | None = None,
                   force_run: bool = False) -> Job:
        """Start a workflow job (a refresh); returns the queued job.

        With ``manage/workflows`` the query is spelled as Microsoft's docs show it
        (``operationType=Ingestion&identifiers='<id>'``); with the 2021 ``workflows`` path as the
        code model has it (``operationType=ingestion&identifiers=<id>``, a plain csv).
        """
        documented = self._settings.workflow_path == "manage/workflows"
        spelled = DOCUMENTED_OPERATION_TYPES.get(operation_type, operation_type) if documented else operation_type
        params: dict[str, str] = {"operationType": spelled}
        if identifiers:
            params["identifiers"] = ",".join(f"'{i}'" if documented else i for i in identifiers)
        if force_run:
            params["forceRunRequested"] = "true"
        return Job.from_api(self._transport.request(
            "POST", self._transport.url(f"{self._workflow(instance_id)}/jobs"), params=params))

    # Segments and measures
    def list_segments(self, instance_id: str) -> list[Segment]:
        """Every segment with its latest member count."""
        payload = expect_list(self._get(f"{self._instance(instance_id)}/manage/segments"), "segments")
        return [Segment.from_api(item, f"[{i}]") for i, item in enumerate(payload)]

    def list_measures(self, instance_id: str) -> list[Measure]:
        """Every measure with its latest output."""
        payload = expect_list(self._get(f"{self._instance(instance_id)}/manage/measures"), "measures")
        return [Measure.from_api(item, f"[{i}]") for i, item in enumerate(payload)]

    def get_measure(self, instance_id: str, measure_name: str) -> Measure:
        """One measure."""
        return Measure.from_api(self._get(f"{self._instance(instance_id)}/manage/measures/{_segment(measure_name)}"))

    # Profiles
    def get_keyring(self, instance_id: str, *, data_source_name: str, entity_name: str, key: str) -> dict:
        """The customer profile keyring matching an alternate key (``KeyRingResponse``)."""
        return _expect_object(self._get(f"{self._instance(instance_id)}/profile/keyring",
                                        dataSourceName=data_source_name, entityName=entity_name, key=key))


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _expect_object(payload: Any) -> dict:
    if not isinstance(payload, dict):
        raise UnexpectedResponseError(f"expected an object, got {type(payload).__name__}", field="")
    return payload


def _page(payload: Any) -> DataPage:
    body = _expect_object(payload)
    rows = body.get("value")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise UnexpectedResponseError("field 'value' must list objects", field="value")
    count = body.get("@odata.count")
    next_link = body.get("@odata.nextLink")
    return DataPage(rows=rows, count=count if isinstance(count, int) and not isinstance(count, bool) else None,
                    next_link=next_link if isinstance(next_link, str) and next_link else None)
