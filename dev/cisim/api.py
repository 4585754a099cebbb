"""CI v1 management, workflow and profile endpoints (paths relative to ``/v1``)."""
from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from . import roles, serialize, workflow
from .errors import CIError
from .state import Instance, Table
from .web import Context, Route, json_response

DEFAULT_JOBS_TOP = 20
DEFAULT_HISTORY_TOP = 100
DEFAULT_HISTORIC_DAYS = 30
SUBMISSION_KINDS = ("onDemand", "scheduled")
JOB_TYPES = ("full", "incremental")


def get_instances(ctx: Context) -> Response:
    return json_response([serialize.instance_info(i) for i in ctx.store.instances.values() if roles.visible(ctx, i.id)])


def get_instance(ctx: Context, iid: str) -> Response:
    return json_response(serialize.instance_metadata(ctx.instance(iid)))


def get_data_sources(ctx: Context, iid: str) -> Response:
    inst = ctx.instance(iid)
    return json_response([serialize.data_source_info(inst, ds) for ds in inst.data_sources.values()])


def get_data_source(ctx: Context, iid: str, ds: str) -> Response:
    inst = ctx.instance(iid)
    include_model = ctx.arg_bool("includeModel", True)
    return json_response(serialize.data_source_info(inst, inst.data_source(ds), include_model))


def _entity(inst: Instance, name: str) -> Table:
    table = inst.table(name)
    if table is None:
        raise CIError(404, "entityMetadataNotFoundForEntity", f"Entity '{name}' was not found.")
    return table


def get_entities(ctx: Context, iid: str) -> Response:
    inst = ctx.instance(iid)
    return json_response({"instanceId": inst.id,
                          "entities": [serialize.entity_metadata(t) for t in inst.tables.values()]})


def get_entity(ctx: Context, iid: str, name: str) -> Response:
    return json_response(serialize.entity_metadata(_entity(ctx.instance(iid), name)))


def get_entity_size(ctx: Context, iid: str, name: str) -> Response:
    inst = ctx.instance(iid)
    table = _entity(inst, name)
    rows = inst.segments[name].entity_count if name in inst.segments else len(table.rows)
    return json_response(serialize.entity_size(table, rows))


def get_segments(ctx: Context, iid: str) -> Response:
    inst = ctx.instance(iid)
    days = ctx.arg_int("historicStatsDays", DEFAULT_HISTORIC_DAYS) if ctx.arg_bool("includeHistoricStats", False) \
        else None
    limit = ctx.arg_int("numberOfSegments", None)
    segments = list(inst.segments.values())[: limit if limit is not None and limit >= 0 else None]
    return json_response([serialize.segment(inst, s, days) for s in segments])


def get_measures(ctx: Context, iid: str) -> Response:
    inst = ctx.instance(iid)
    return json_response([serialize.measure(inst, m) for m in inst.measures.values()])


def get_measure(ctx: Context, iid: str, name: str) -> Response:
    inst = ctx.instance(iid)
    days = ctx.arg_int("historicStatsDays", DEFAULT_HISTORIC_DAYS) if ctx.arg_bool("includeHistoricStats", False) \
        else None
    return json_response(serialize.measure(inst, inst.measure(name), days))


def get_keyring(ctx: Context, iid: str) -> Response:
    inst = ctx.instance(iid)
    args = ctx.request.args
    missing = [p for p in ("dataSourceName", "entityName", "key") if not args.get(p)]
    if missing:
        raise CIError(400, "configurationControllerMissingInput", f"Missing required parameter(s): "
                                                                  f"{', '.join(missing)}.")
    ds = inst.find_data_source(args["dataSourceName"])
    if ds is None:
        raise CIError(404, "dataSourceNotFound", f"Data source '{args['dataSourceName']}' was not found.")
    entity = args["entityName"].removeprefix(f"{ds.name}_")
    for ring in inst.keyrings:
        if (ds.name, entity, args["key"]) in ring.keys:
            return json_response(serialize.keyring(inst, ring.customer_id, ring.keys))
    raise CIError(404, "keyRingNotFound", f"No customer has key '{args['key']}' in {ds.name}/{entity}.")


def _workflow(ctx: Context, iid: str, wf: str) -> Instance:
    ctx.services.log.note_form("workflow_path", "manage/workflows" if "/manage/workflows/" in ctx.request.path
                               else "workflows")
    inst = ctx.instance(iid)
    if wf != "main":
        raise CIError(404, "workflowNotFound", f"Workflow '{wf}' was not found; the only workflow is 'main'.")
    return inst


def get_jobs(ctx: Context, iid: str, wf: str) -> Response:
    inst = _workflow(ctx, iid, wf)
    top = ctx.arg_int("top", DEFAULT_JOBS_TOP)
    include_tasks = ctx.arg_bool("includeTasks", False)
    jobs = workflow.jobs_newest_first(inst)[: max(top or 0, 0)]
    return json_response([serialize.job(j, include_tasks) for j in jobs])


def _identifiers(ctx: Context, body: dict[str, Any]) -> list[str]:
    """``identifiers`` as csv and/or repeated query values, quotes optional; else from the body."""
    raw = ctx.request.args.getlist("identifiers")
    if not raw:
        listed = body.get("identifiers") or []
        if not isinstance(listed, list):
            raise CIError(400, "invalidBody", "identifiers must be a list.")
        if listed:
            ctx.services.log.note_form("identifiers", "body")
        raw = [str(i) for i in listed]
    else:
        parts = [part.strip() for value in raw for part in value.split(",") if part.strip()]
        quoted = [len(p) > 1 and p[0] == p[-1] and p[0] in "'\"" for p in parts]
        ctx.services.log.note_form("identifiers", "quoted" if all(quoted) else "plain" if not any(quoted) else "mixed")
    return [part.strip().strip("'\"").strip() for value in raw for part in value.split(",") if part.strip()]


def submit_job(ctx: Context, iid: str, wf: str) -> Response:
    inst = _workflow(ctx, iid, wf)
    body = ctx.json_body(required=False) or {}
    if not isinstance(body, dict):
        raise CIError(400, "invalidBody", "The body must be an OnDemandJobRequest object.")
    raw_type = ctx.request.args.get("operationType") or body.get("operationType")
    if not raw_type:
        raise CIError(400, "invalidOperationType", "operationType is required.")
    ctx.services.log.note_form("operation_type", str(raw_type))
    kind = body.get("submissionKind", "onDemand")
    job_type = body.get("jobType", "full")
    if kind not in SUBMISSION_KINDS or job_type not in JOB_TYPES:
        raise CIError(400, "invalidBody", "submissionKind must be onDemand|scheduled and jobType full|incremental.")
    force = ctx.arg_bool("forceRunRequested", bool(body.get("forceRunRequested", False)))
    options = body.get("options") if isinstance(body.get("options"), dict) else None
    job = workflow.submit(inst, workflow.canonical_operation_type(str(raw_type)), _identifiers(ctx, body),
                          submission_kind=kind, job_type=job_type, force_run=force, options=options)
    return json_response(serialize.job(job, include_tasks=True))


def get_job(ctx: Context, iid: str, wf: str, job_id: str) -> Response:
    inst = _workflow(ctx, iid, wf)
    return json_response(serialize.job(inst.job(job_id), ctx.arg_bool("includeTasks", False)))


def cancel_job(ctx: Context, iid: str, wf: str, job_id: str) -> Response:
    inst = _workflow(ctx, iid, wf)
    return json_response(serialize.job(workflow.cancel(inst, inst.job(job_id)), include_tasks=True))


def get_history(ctx: Context, iid: str, wf: str) -> Response:
    inst = _workflow(ctx, iid, wf)
    top = ctx.arg_int("top", DEFAULT_HISTORY_TOP)
    return json_response([serialize.task(t) for t in workflow.history(inst)[: max(top or 0, 0)]])


def get_status(ctx: Context, iid: str, wf: str) -> Response:
    inst = _workflow(ctx, iid, wf)
    return json_response([serialize.node(n) for n in workflow.status_nodes(inst)])


def get_schedules(ctx: Context, iid: str, wf: str) -> Response:
    return json_response(serialize.schedules(_workflow(ctx, iid, wf)))


_I = "/instances/<iid>"
ROUTES = [
    Route("/instances", ("GET",), "Get-all-instances", get_instances),
    Route(_I, ("GET",), "Get-instance-metadata", get_instance),
    Route(f"{_I}/manage/datasources", ("GET",), "Get-all-data-sources", get_data_sources),
    Route(f"{_I}/manage/datasources/v2", ("GET",), "Get-all-data-sources", get_data_sources),
    Route(f"{_I}/manage/datasources/<ds>", ("GET",), "Get-data-source", get_data_source),
    Route(f"{_I}/manage/entities", ("GET",), "Get-all-entity-metadata", get_entities),
    Route(f"{_I}/manage/entities/<name>", ("GET",), "Get-entity-metadata", get_entity),
    Route(f"{_I}/manage/entities/<name>/entitysize", ("GET",), "Get-entity-size", get_entity_size),
    Route(f"{_I}/manage/segments", ("GET",), "Get-all-segments", get_segments),
    Route(f"{_I}/manage/measures", ("GET",), "Get-a-list-of-measures-metadata", get_measures),
    Route(f"{_I}/manage/measures/<name>", ("GET",), "Get-metadata-for-a-measure", get_measure),
    Route(f"{_I}/profile/keyring", ("GET",), "Get-KeyRing", get_keyring),
]


def _workflow_routes(prefix: str) -> list[Route]:
    base = f"{_I}/{prefix}/<wf>"
    return [
        Route(f"{base}/jobs", ("GET",), "Get-list-of-recent-workflow-jobs", get_jobs),
        Route(f"{base}/jobs", ("POST",), "Submit-a-workflow-job", submit_job),
        Route(f"{base}/jobs/<job_id>", ("GET",), "Get-a-workflow-job-information", get_job),
        Route(f"{base}/jobs/<job_id>/cancel", ("POST",), "Cancel-a-workflow-job", cancel_job),
        Route(f"{base}/history", ("GET",), "Get-list-of-workflow-task-information-history", get_history),
        Route(f"{base}/status", ("GET",), "Get-workflow-status", get_status),
        Route(f"{base}/schedules", ("GET",), "Get-workflow-schedules", get_schedules),
    ]


ROUTES += _workflow_routes("workflows") + _workflow_routes("manage/workflows")
