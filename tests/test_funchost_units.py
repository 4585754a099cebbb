"""Pure-logic parts of the local host: routes, settings, host.json, NCRONTAB, keys."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dev.funchost.errors import HostError
from dev.funchost.hostconfig import HostConfig, parse_timespan
from dev.funchost.keys import AuthLevel, Keys, presented_key
from dev.funchost.routing import Route, Router, RouteTemplate
from dev.funchost.settings import DEV_STORAGE_CONNECTION_STRING, build_settings, read_local_settings, resolve
from dev.funchost.timers import NcrontabSchedule

# -- routes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("template, path, expected", [
    ("items/{id}", "items/5", {"id": "5"}),
    ("items/{id}", "ITEMS/abc", {"id": "abc"}),
    ("items/{id}", "items", None),
    ("items/{id}", "items/5/more", None),
    ("items/{id:int}", "items/-12", {"id": "-12"}),
    ("items/{id:int}", "items/1.5", None),
    ("items/{id:int}", "items/99999999999", None),
    ("items/{id:long}", "items/99999999999", {"id": "99999999999"}),
    ("files/{name?}", "files", {}),
    ("files/{name?}", "files/a.txt", {"name": "a.txt"}),
    ("pages/{n=1}", "pages", {"n": "1"}),
    ("static/{*path}", "static/a/b/c", {"path": "a/b/c"}),
    ("static/{*path}", "static", {}),
    ("g/{id:guid}", "g/0f8fad5b-d9cb-469f-a165-70867728950e", {"id": "0f8fad5b-d9cb-469f-a165-70867728950e"}),
    ("g/{id:guid}", "g/not-a-guid", None),
    ("w/{word:alpha}", "w/Hello", {"word": "Hello"}),
    ("w/{word:alpha}", "w/h3llo", None),
    ("b/{flag:bool}", "b/TRUE", {"flag": "TRUE"}),
    ("n/{x:min(10)}", "n/9", None),
    ("n/{x:range(1,5)}", "n/5", {"x": "5"}),
    ("s/{x:length(2,3)}", "s/abcd", None),
    ("s/{x:minlength(2):maxlength(3)}", "s/ab", {"x": "ab"}),
    ("r/{code:regex(^x)}", "r/xyz", {"code": "xyz"}),
    ("f/{name}.{ext}", "f/report.pdf", {"name": "report", "ext": "pdf"}),
    ("", "", {}),
])
def test_route_template_matching(template: str, path: str, expected: dict | None) -> None:
    assert RouteTemplate(template).match(path) == expected


@pytest.mark.parametrize("template", ["a/{*rest}/b", "a/{x", "a//b", "a/{id:nosuch}", "a/{x}/{X}",
                                      "a/{x:min(a)}", "a/{x?}.txt"])
def test_invalid_route_templates_are_rejected(template: str) -> None:
    with pytest.raises(HostError):
        RouteTemplate(template)


def test_router_prefers_literals_then_constraints_and_filters_methods() -> None:
    router = Router([
        Route(RouteTemplate("items/{name}"), None, "name"),
        Route(RouteTemplate("items/{id:int}"), frozenset({"GET"}), "int"),
        Route(RouteTemplate("items/special"), frozenset({"GET"}), "literal"),
        Route(RouteTemplate("{*all}"), frozenset({"GET"}), "catch-all"),
    ])
    assert router.match("items/special", "GET") == ("literal", {})
    assert router.match("items/7", "GET") == ("int", {"id": "7"})
    assert router.match("items/7", "POST") == ("name", {"name": "7"})
    assert router.match("other/x", "GET") == ("catch-all", {"all": "other/x"})
    assert router.match("other/x", "DELETE") is None


# -- settings -----------------------------------------------------------------------------------

def _write(path: Path, values: dict) -> None:
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}), encoding="utf-8")


def test_local_settings_file_wins_over_the_sample(tmp_path: Path) -> None:
    _write(tmp_path / "local.settings.sample.json", {"A": "sample"})
    assert read_local_settings(tmp_path)[1]["Values"] == {"A": "sample"}
    _write(tmp_path / "local.settings.json", {"A": "local"})
    path, data = read_local_settings(tmp_path)
    assert path == tmp_path / "local.settings.json" and data["Values"] == {"A": "local"}


def test_environment_wins_over_local_settings_and_overrides_win_over_both() -> None:
    local = {"A": "file", "B": "file", "C": "file", "N": 5}
    merged = build_settings(local, environ={"B": "env", "C": "env"}, overrides={"C": "override", "D": "x"})
    assert merged == {"A": "file", "B": "env", "C": "override", "D": "x", "N": "5"}


def test_development_storage_maps_to_the_default_azurite_ports() -> None:
    merged = build_settings({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, environ={})
    assert merged["AzureWebJobsStorage"] == DEV_STORAGE_CONNECTION_STRING
    assert "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1" in DEV_STORAGE_CONNECTION_STRING


def test_encrypted_or_broken_local_settings_fail_clearly(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text('{"IsEncrypted": true, "Values": {}}')
    with pytest.raises(HostError, match="encrypted"):
        read_local_settings(tmp_path)
    (tmp_path / "local.settings.json").write_text("{not json")
    with pytest.raises(HostError, match="cannot read"):
        read_local_settings(tmp_path)


def test_percent_references_resolve_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNCHOST_TEST_QUEUE", "orders")
    assert resolve("%FUNCHOST_TEST_QUEUE%-in", "test") == "orders-in"
    with pytest.raises(HostError, match="does not resolve"):
        resolve("%FUNCHOST_TEST_MISSING%", "test")


# -- host.json ----------------------------------------------------------------------------------

def test_timespans() -> None:
    assert parse_timespan("00:00:02", "x") == 2
    assert parse_timespan("00:00:00.500", "x") == 0.5
    assert parse_timespan("1.02:03:04", "x") == 93784
    with pytest.raises(HostError):
        parse_timespan("2s", "x")


def test_host_json_queue_options_and_defaults(tmp_path: Path) -> None:
    assert HostConfig.load(tmp_path).queues.max_dequeue_count == 5
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {
        "http": {"routePrefix": "/v1/"},
        "queues": {"batchSize": 8, "newBatchThreshold": 3, "visibilityTimeout": "00:00:10",
                   "maxPollingInterval": "00:00:02", "maxDequeueCount": 2, "messageEncoding": "none"}}}))
    config = HostConfig.load(tmp_path)
    assert config.route_prefix == "v1"
    assert (config.queues.batch_size, config.queues.new_batch_threshold, config.queues.visibility_timeout,
            config.queues.max_polling_interval, config.queues.max_dequeue_count,
            config.queues.message_encoding) == (8, 3, 10, 2, 2, "none")


# -- NCRONTAB -----------------------------------------------------------------------------------

def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_ncrontab_has_seconds_first() -> None:
    schedule = NcrontabSchedule("0 */5 * * * *", "t")
    assert schedule.occurrences(_utc(2024, 1, 1), 2) == [_utc(2024, 1, 1, 0, 5), _utc(2024, 1, 1, 0, 10)]
    every_ten = NcrontabSchedule("*/10 * * * * *", "t")
    assert every_ten.next_after(_utc(2024, 1, 1, 0, 0, 1)) == _utc(2024, 1, 1, 0, 0, 10)


def test_ncrontab_day_and_weekday_must_both_match() -> None:
    # 13th of the month that is also a Friday: 2024-09-13
    assert NcrontabSchedule("0 0 9 13 * FRI", "t").next_after(_utc(2024, 1, 1)) == _utc(2024, 9, 13, 9)


@pytest.mark.parametrize("expression", ["*/5 * * * *", "0 0 * * * * 2024", "61 * * * * *", "0 0 0 L * *",
                                        "not a cron", "00:05:00"])
def test_invalid_ncrontab_expressions_are_rejected(expression: str) -> None:
    with pytest.raises(HostError, match="NCRONTAB"):
        NcrontabSchedule(expression, "function 'x'")


# -- keys ---------------------------------------------------------------------------------------

def test_key_levels_and_sources() -> None:
    keys = Keys(function_key="f", master_key="m")
    assert [keys.level_of(k) for k in (None, "", "x", "f", "m")] == [
        AuthLevel.ANONYMOUS, AuthLevel.ANONYMOUS, AuthLevel.ANONYMOUS, AuthLevel.FUNCTION, AuthLevel.ADMIN]
    assert presented_key({"x-functions-key": "h"}, {"code": "q"}) == "h"
    assert presented_key({}, {"code": "q"}) == "q"
    assert AuthLevel.parse("ANONYMOUS") is AuthLevel.ANONYMOUS and AuthLevel.parse(None) is AuthLevel.FUNCTION


def test_keys_come_from_settings_or_are_random() -> None:
    assert Keys.from_settings({"FUNCHOST_FUNCTION_KEY": "a", "FUNCHOST_MASTER_KEY": "b"}) == Keys("a", "b")
    first, second = Keys.from_settings({}), Keys.from_settings({})
    assert first.function_key != second.function_key and len(first.master_key) >= 32
