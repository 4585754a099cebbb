"""The flow expressions of connector/README.md, evaluated on notifications produced through the whole
stack (subscribe on the local host → simulator event → poll → delivery to the local receiver).

A maker pastes these expressions into Power Automate; each must give a non-empty value on a real
notification of its flow's trigger. The evaluator covers the README's subset of the workflow
definition language: ``triggerBody()`` followed by ``?['key']`` steps, optionally inside ``first(...)``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_triggers_e2e import flow, poll_now, run_timer, subscribed

README = Path(__file__).resolve().parents[1] / "connector" / "README.md"
_STEP = re.compile(r"\?\['([^']+)'\]")
_EXPRESSION = re.compile(r"`((?:first\()?triggerBody\(\)[^`]*)`")

pytestmark = pytest.mark.usefixtures("clean_app_state")


def evaluate(expression: str, body: dict[str, Any]) -> Any:
    """The value of ``expression`` for the trigger body ``body`` (None where ``?[...]`` finds nothing)."""
    match = re.fullmatch(r"first\((triggerBody\(\)(?:\?\['[^']+'\])*)\)((?:\?\['[^']+'\])*)|"
                         r"(triggerBody\(\)(?:\?\['[^']+'\])*)", expression)
    if match is None:
        raise ValueError(f"expression outside the supported subset: {expression}")
    inner, after, plain = match.groups()

    def walk(value: Any, steps: str) -> Any:
        for key in _STEP.findall(steps):
            value = value.get(key) if isinstance(value, dict) else None
        return value
    if plain is not None:
        return walk(body, plain.removeprefix("triggerBody()"))
    listed = walk(body, inner.removeprefix("triggerBody()"))
    return walk(listed[0] if listed else None, after)


def flow_expressions() -> dict[str, list[str]]:
    """The expressions of each flow section (``## Flow 1`` …) of the README."""
    sections = re.split(r"^## ", README.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {s.split(":", 1)[0]: _EXPRESSION.findall(s) for s in sections if s.startswith("Flow ")}


def test_evaluator_follows_the_designer_semantics():
    body = {"a": {"b": "x"}, "errors": [{"message": "m"}], "empty": []}
    assert evaluate("triggerBody()?['a']?['b']", body) == "x"
    assert evaluate("first(triggerBody()?['errors'])?['message']", body) == "m"
    assert evaluate("first(triggerBody()?['empty'])?['message']", body) is None
    assert evaluate("triggerBody()?['missing']?['b']", body) is None
    with pytest.raises(ValueError):
        evaluate("body('Step')?['a']", body)


def test_every_readme_flow_expression_is_non_empty_on_a_real_notification(app_host, receiver, ci_sim):
    flows = flow_expressions()
    assert set(flows) == {"Flow 1", "Flow 2"} and all(flows.values())
    refresh, segment = flow(), flow()
    subscribed(app_host, receiver, "dataSourceRefreshFailed", refresh, dataSourceId="Loyalty")
    ci_sim.control.set_segment_count("HighValueCustomers", 90)
    subscribed(app_host, receiver, "segmentThresholdCrossed", segment, segmentName="HighValueCustomers",
               threshold=100)
    poll_now(app_host)  # baselines
    ci_sim.control.start_refresh("Loyalty", outcome="fail", message="Loyalty export file is missing.")
    ci_sim.control.set_segment_count("HighValueCustomers", 150)
    run_timer(app_host)
    [failure] = receiver.wait_for(refresh)
    [crossing] = receiver.wait_for(segment)
    assert failure.body["errorMessage"] == "Loyalty export file is missing."
    for flow_name, note in (("Flow 1", failure), ("Flow 2", crossing)):
        for expression in flows[flow_name]:
            value = evaluate(expression, note.body)
            assert value not in (None, "", [], {}), f"{flow_name}: {expression} is empty on {note.body}"
