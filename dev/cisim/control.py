"""Control API (``/_control/...``, no auth): scripts scenarios, faults, tokens and the request log.

Bodies are JSON objects with snake_case keys; unknown keys are rejected. CI objects come back in
their CI wire shape (jobs as ``GraphJobInfo`` with tasks).
"""
from __future__ import annotations

import uuid
from typing import Any

from werkzeug.wrappers import Response

from . import scenarios, serialize, workflow
from .errors import ControlError
from .faults import RULE_KEYS
from .sample import build_sample
from .state import Instance, Job, Schedule, utcnow
from .web import Context, Route, json_response


def _body(ctx: Context, *allowed: str) -> dict[str, Any]:
    body = ctx.json_body(required=False) or {}
    if not isinstance(body, dict):
        raise ControlError(400, "The body must be a JSON object.")
    unknown = set(body) - set(allowed)
    if unknown:
        raise ControlError(400, f"Unknown fields {sorted(unknown)}; allowed: {sorted(allowed)}.")
    return body


def _job(job: Job) -> Response:
    return json_response(serialize.job(job, include_tasks=True))


def _empty() -> Response:
    return Response(status=204)


def health(ctx: Context) -> Response:
    return json_response({"status": "ok"})


def reset(ctx: Context) -> Response:
    ctx.services.reset()
    return _empty()


def get_requests(ctx: Context) -> Response:
    return json_response(ctx.services.log.summary())


def reset_requests(ctx: Context) -> Response:
    ctx.services.log.reset()
    return _empty()


def get_faults(ctx: Context) -> Response:
    return json_response(ctx.services.faults.rules())


def add_fault(ctx: Context) -> Response:
    return json_response(ctx.services.faults.add(_body(ctx, *RULE_KEYS)).to_json(), 201)


def clear_faults(ctx: Context) -> Response:
    ctx.services.faults.clear()
    return _empty()


def expire_tokens(ctx: Context) -> Response:
    return json_response({"expired": ctx.services.authority.tokens.expire_all()})


def set_token_lifetime(ctx: Context) -> Response:
    seconds = _body(ctx, "seconds").get("seconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
        raise ControlError(400, "seconds must be a positive integer.")
    ctx.services.authority.tokens.lifetime = seconds
    return json_response({"seconds": seconds})


def set_next_link(ctx: Context) -> Response:
    enabled = _body(ctx, "enabled").get("enabled")
    if not isinstance(enabled, bool):
        raise ControlError(400, "enabled must be true or false.")
    ctx.store.next_link = enabled
    return json_response({"enabled": enabled})


def add_instance(ctx: Context) -> Response:
    body = _body(ctx, "name", "instance_id", "sample")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ControlError(400, "name is required.")
    try:
        iid = str(uuid.UUID(str(body.get("instance_id") or uuid.uuid4())))
    except ValueError:
        raise ControlError(400, "instance_id must be a uuid.") from None
    if iid in ctx.store.instances:
        raise ControlError(409, f"Instance {iid} already exists.")
    if body.get("sample"):
        inst = build_sample(iid, name)
    else:
        inst = Instance(id=iid, name=name, created=utcnow(), schedule=Schedule(str(uuid.uuid4()), ["0 2 * * *"]))
    return json_response(serialize.instance_info(ctx.store.add(inst)), 201)


def add_data_source(ctx: Context, iid: str) -> Response:
    body = _body(ctx, "name", "friendly_name", "kind", "entities", "refresh_state")
    inst = ctx.instance(iid)
    ds = scenarios.add_data_source(inst, body.get("name", ""), friendly_name=body.get("friendly_name"),
                                   kind=body.get("kind", "powerQuery"), entities=body.get("entities", ["Contacts"]),
                                   refresh_state=body.get("refresh_state", "notUpdated"))
    return json_response(serialize.data_source_info(inst, ds), 201)


def delete_data_source(ctx: Context, iid: str, ds: str) -> Response:
    scenarios.delete_data_source(ctx.instance(iid), ds)
    return _empty()


def _running_refresh(inst: Instance, ds_id: str) -> Job | None:
    for job in workflow.jobs_newest_first(inst):
        task = job.running_task
        if task is not None and task.key == ("ingestion", ds_id):
            return job
    return None


def start_refresh(ctx: Context, iid: str, ds: str) -> Response:
    body = _body(ctx, "outcome", "message")
    inst = ctx.instance(iid)
    source = inst.data_source(ds)
    outcome = body.get("outcome")
    if outcome not in (None, "succeed", "fail", "cancel"):
        raise ControlError(400, "outcome must be succeed, fail or cancel (or omitted to leave it running).")
    if _running_refresh(inst, source.id):
        raise ControlError(409, f"A refresh of data source '{source.name}' is already running.")
    job = workflow.submit(inst, "ingestion", [source.id])
    if outcome == "cancel":
        workflow.cancel(inst, job)
    elif outcome:
        workflow.advance(inst, job, fail=outcome == "fail", message=body.get("message"))
    return _job(job)


def _finish_refresh(ctx: Context, iid: str, ds: str, action: str) -> Response:
    body = _body(ctx, "message") if action == "fail" else _body(ctx)
    inst = ctx.instance(iid)
    source = inst.data_source(ds)
    job = _running_refresh(inst, source.id)
    if job is None:
        raise ControlError(409, f"No refresh of data source '{source.name}' is running.")
    if action == "cancel":
        return _job(workflow.cancel(inst, job))
    return _job(workflow.advance(inst, job, fail=action == "fail", message=body.get("message")))


def complete_refresh(ctx: Context, iid: str, ds: str) -> Response:
    return _finish_refresh(ctx, iid, ds, "complete")


def fail_refresh(ctx: Context, iid: str, ds: str) -> Response:
    return _finish_refresh(ctx, iid, ds, "fail")


def cancel_refresh(ctx: Context, iid: str, ds: str) -> Response:
    return _finish_refresh(ctx, iid, ds, "cancel")


def _run_job(ctx: Context, iid: str, operation_type: str, default_kind: str,
             options: dict[str, Any] | None = None) -> Response:
    body = _body(ctx, "submission_kind", "run", "fail_task", "message")
    inst = ctx.instance(iid)
    kind, run = body.get("submission_kind", default_kind), body.get("run", "all")
    if kind not in ("scheduled", "onDemand") or run not in ("all", "step"):
        raise ControlError(400, "submission_kind must be scheduled|onDemand and run all|step.")
    job = workflow.create(inst, operation_type, submission_kind=kind, options=options)
    job.fail_task, job.fail_message = body.get("fail_task"), body.get("message")
    if job.fail_task and not any(workflow.matches(inst, t, job.fail_task) for t in job.tasks):
        inst.jobs.remove(job)
        raise ControlError(400, f"fail_task '{job.fail_task}' matches no task of the job.")
    workflow.start(inst, job)
    if run == "all":
        workflow.run_to_end(inst, job)
    return _job(job)


def full_refresh(ctx: Context, iid: str) -> Response:
    return _run_job(ctx, iid, "all", "scheduled")


def unification_refresh(ctx: Context, iid: str) -> Response:
    return _run_job(ctx, iid, "merge", "onDemand", {"runDownstreamAfterMerge": False})


def advance_job(ctx: Context, iid: str, job_id: str) -> Response:
    body = _body(ctx, "fail", "message")
    inst = ctx.instance(iid)
    return _job(workflow.advance(inst, inst.job(job_id), fail=bool(body.get("fail")), message=body.get("message")))


def complete_job(ctx: Context, iid: str, job_id: str) -> Response:
    body = _body(ctx, "fail_task", "message")
    inst = ctx.instance(iid)
    job = inst.job(job_id)
    if body.get("fail_task"):
        job.fail_task, job.fail_message = body["fail_task"], body.get("message")
    return _job(workflow.run_to_end(inst, job))


def cancel_job(ctx: Context, iid: str, job_id: str) -> Response:
    inst = ctx.instance(iid)
    return _job(workflow.cancel(inst, inst.job(job_id)))


def add_segment(ctx: Context, iid: str) -> Response:
    body = _body(ctx, "name", "friendly_name", "description", "state", "count")
    inst = ctx.instance(iid)
    seg = scenarios.add_segment(inst, body.get("name", ""), friendly_name=body.get("friendly_name"),
                                description=body.get("description", ""), state=body.get("state", "active"),
                                count=body.get("count", 0))
    return json_response(serialize.segment(inst, seg), 201)


def set_segment_count(ctx: Context, iid: str, name: str) -> Response:
    body = _body(ctx, "count")
    inst = ctx.instance(iid)
    return json_response(serialize.segment(inst, scenarios.set_segment_count(inst, name, body.get("count"))))


def delete_segment(ctx: Context, iid: str, name: str) -> Response:
    scenarios.delete_segment(ctx.instance(iid), name)
    return _empty()


def add_measure(ctx: Context, iid: str) -> Response:
    body = _body(ctx, "name", "display_name", "description", "is_scalar", "dimension", "value", "values")
    inst = ctx.instance(iid)
    measure = scenarios.add_measure(inst, body.get("name", ""), display_name=body.get("display_name"),
                                    description=body.get("description", ""),
                                    is_scalar=bool(body.get("is_scalar", True)), dimension=body.get("dimension"),
                                    value=body.get("value"), values=body.get("values"))
    return json_response(serialize.measure(inst, measure), 201)


def set_measure_value(ctx: Context, iid: str, name: str) -> Response:
    body = _body(ctx, "value", "values")
    inst = ctx.instance(iid)
    measure = scenarios.set_measure_value(inst, name, value=body.get("value"), values=body.get("values"))
    return json_response(serialize.measure(inst, measure))


def delete_measure(ctx: Context, iid: str, name: str) -> Response:
    scenarios.delete_measure(ctx.instance(iid), name)
    return _empty()


_I = "/instances/<iid>"
ROUTES = [
    Route("/health", ("GET",), "health", health, "control"),
    Route("/reset", ("POST",), "reset", reset, "control"),
    Route("/requests", ("GET",), "get_requests", get_requests, "control"),
    Route("/requests", ("DELETE",), "reset_requests", reset_requests, "control"),
    Route("/faults", ("GET",), "get_faults", get_faults, "control"),
    Route("/faults", ("POST",), "add_fault", add_fault, "control"),
    Route("/faults", ("DELETE",), "clear_faults", clear_faults, "control"),
    Route("/tokens/expire", ("POST",), "expire_tokens", expire_tokens, "control"),
    Route("/tokens/lifetime", ("PUT",), "set_token_lifetime", set_token_lifetime, "control"),
    Route("/odata/next-link", ("PUT",), "set_next_link", set_next_link, "control"),
    Route("/instances", ("POST",), "add_instance", add_instance, "control"),
    Route(f"{_I}/datasources", ("POST",), "add_data_source", add_data_source, "control"),
    Route(f"{_I}/datasources/<ds>", ("DELETE",), "delete_data_source", delete_data_source, "control"),
    Route(f"{_I}/datasources/<ds>/refresh", ("POST",), "start_refresh", start_refresh, "control"),
    Route(f"{_I}/datasources/<ds>/refresh/complete", ("POST",), "complete_refresh", complete_refresh, "control"),
    Route(f"{_I}/datasources/<ds>/refresh/fail", ("POST",), "fail_refresh", fail_refresh, "control"),
    Route(f"{_I}/datasources/<ds>/refresh/cancel", ("POST",), "cancel_refresh", cancel_refresh, "control"),
    Route(f"{_I}/refresh/full", ("POST",), "full_refresh", full_refresh, "control"),
    Route(f"{_I}/refresh/unification", ("POST",), "unification_refresh", unification_refresh, "control"),
    Route(f"{_I}/jobs/<job_id>/advance", ("POST",), "advance_job", advance_job, "control"),
    Route(f"{_I}/jobs/<job_id>/complete", ("POST",), "complete_job", complete_job, "control"),
    Route(f"{_I}/jobs/<job_id>/cancel", ("POST",), "cancel_job", cancel_job, "control"),
    Route(f"{_I}/segments", ("POST",), "add_segment", add_segment, "control"),
    Route(f"{_I}/segments/<name>/count", ("PUT",), "set_segment_count", set_segment_count, "control"),
    Route(f"{_I}/segments/<name>", ("DELETE",), "delete_segment", delete_segment, "control"),
    Route(f"{_I}/measures", ("POST",), "add_measure", add_measure, "control"),
    Route(f"{_I}/measures/<name>/value", ("PUT",), "set_measure_value", set_measure_value, "control"),
    Route(f"{_I}/measures/<name>", ("DELETE",), "delete_measure", delete_measure, "control"),
]
