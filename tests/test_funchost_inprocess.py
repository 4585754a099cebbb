"""``FunctionHost`` in process: settings precedence, host.json options, in-process helpers."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import requests

from dev.funchost import FunctionHost, HostError
from tests.apps.sample_support import SAMPLE_APP, SAMPLE_ROOT, records, sample_env


def _copy_sample(target: Path, local_values: dict[str, str] | None = None,
                 host_json: dict[str, Any] | None = None) -> Path:
    shutil.copytree(SAMPLE_ROOT, target, ignore=shutil.ignore_patterns("__pycache__"))
    if local_values is not None:
        local = {"IsEncrypted": False, "Values": local_values}
        (target / "local.settings.json").write_text(json.dumps(local))
    if host_json is not None:
        (target / "host.json").write_text(json.dumps(host_json))
    return target


def test_in_process_host_fires_timers_and_restores_the_environment(azurite: Any, tmp_path: Path) -> None:
    settings = sample_env(azurite.connection_string, tmp_path)
    with FunctionHost(SAMPLE_ROOT, app_module=SAMPLE_APP, settings=settings, run_timers=False) as host:
        assert host.base_url.startswith("http://127.0.0.1:")
        result = host.fire_timer("tick")
        assert result.succeeded and result.error is None
        assert records(tmp_path, "tick") == [{"past_due": False}]
        with pytest.raises(HostError, match="not a timer"):
            host.fire_timer("hello")
        assert os.environ["SAMPLE_STATE_DIR"] == str(tmp_path)
    assert os.environ.get("SAMPLE_STATE_DIR") != str(tmp_path)


def test_environment_beats_local_settings_which_beat_the_sample(azurite: Any, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = _copy_sample(tmp_path / "app", local_values={"SAMPLE_GREETING": "hi-local",
                                                        "SAMPLE_SCHEDULE": "0 0 * * * *"})
    settings = sample_env(azurite.connection_string, tmp_path / "state")
    with FunctionHost(root, app_module=SAMPLE_APP, settings=settings, run_timers=False) as host:
        assert requests.get(f"{host.base_url}/api/hello", timeout=10).text == "hi-local world"
    monkeypatch.setenv("SAMPLE_GREETING", "hi-env")
    with FunctionHost(root, app_module=SAMPLE_APP, settings=settings, run_timers=False) as host:
        assert requests.get(f"{host.base_url}/api/hello", timeout=10).text == "hi-env world"
    with FunctionHost(root, app_module=SAMPLE_APP, settings={**settings, "SAMPLE_GREETING": "hi-override"},
                      run_timers=False) as host:
        assert requests.get(f"{host.base_url}/api/hello", timeout=10).text == "hi-override world"


def test_host_json_functions_list_and_route_prefix(azurite: Any, tmp_path: Path) -> None:
    root = _copy_sample(tmp_path / "app", host_json={
        "version": "2.0", "functions": ["hello", "tick"], "extensions": {"http": {"routePrefix": "v1"}}})
    settings = sample_env(azurite.connection_string, tmp_path / "state")
    with FunctionHost(root, app_module=SAMPLE_APP, settings=settings, run_timers=False) as host:
        assert [f["name"] for f in host.describe()] == ["hello", "tick"]
        assert requests.get(f"{host.base_url}/v1/hello", timeout=10).status_code == 200
        assert requests.get(f"{host.base_url}/api/hello", timeout=10).status_code == 404
        assert requests.get(f"{host.base_url}/v1/files", timeout=10).status_code == 404


def test_missing_connection_setting_fails_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    root = _copy_sample(tmp_path / "app")
    (root / "local.settings.sample.json").unlink()
    settings = {"SAMPLE_STATE_DIR": str(tmp_path), "SAMPLE_SCHEDULE": "0 0 * * * *",
                "SAMPLE_IN_QUEUE": "in-queue", "SAMPLE_OUT_QUEUE": "out-queue"}
    host = FunctionHost(root, app_module=SAMPLE_APP, settings=settings, run_timers=False)
    with pytest.raises(HostError, match="connection string 'AzureWebJobsStorage' does not exist"):
        host.start()
