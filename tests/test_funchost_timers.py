"""Timer triggers on the local host: on demand, on schedule, past due, run on startup, bad schedules."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.apps.sample_support import SAMPLE_APP, SAMPLE_ROOT, records, sample_env, wait_for
from tests.fixtures.funchost import FuncHostError, FuncHostFactory, FuncHostProcess

EVERY_SECOND = "* * * * * *"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("timer-state")


@pytest.fixture(scope="module")
def host(funchost_factory: FuncHostFactory, azurite: Any, state: Path) -> Iterator[FuncHostProcess]:
    """Timers off: nothing runs unless fired through the admin API."""
    env = sample_env(azurite.connection_string, state, SAMPLE_SCHEDULE=EVERY_SECOND)
    host = funchost_factory.start(root=SAMPLE_ROOT, app=SAMPLE_APP, timers=False, env=env)
    yield host
    host.stop()


def test_with_timers_off_nothing_runs_by_itself(host: FuncHostProcess, state: Path) -> None:
    time.sleep(1.2)
    assert records(state, "tick") == records(state, "boot") == records(state, "nightly") == []


def test_admin_endpoint_fires_a_timer_asynchronously(host: FuncHostProcess, state: Path) -> None:
    response = host.invoke("tick", wait=False)
    assert (response.status_code, response.content) == (202, b"")
    assert wait_for(lambda: records(state, "tick")) == [{"past_due": False}]


def test_admin_endpoint_can_wait_for_the_result(host: FuncHostProcess, state: Path) -> None:
    before = len(records(state, "nightly"))
    response = host.invoke("NIGHTLY")  # function names are case-insensitive
    assert response.status_code == 202
    assert response.json()["status"] == "Succeeded"
    assert len(records(state, "nightly")) == before + 1


def test_timers_run_on_schedule_past_due_and_on_startup(funchost_factory: FuncHostFactory, azurite: Any,
                                                         tmp_path: Path) -> None:
    state_dir = tmp_path / "host-state"
    monitor = state_dir / "timers"
    monitor.mkdir(parents=True)
    missed = datetime.now(timezone.utc) - timedelta(days=1)
    (monitor / "nightly.json").write_text(json.dumps({
        "Last": (missed - timedelta(days=1)).isoformat(), "Next": missed.isoformat(),
        "LastUpdated": (missed - timedelta(days=1)).isoformat()}))
    records_dir = tmp_path / "records"
    host = funchost_factory.start(root=SAMPLE_ROOT, app=SAMPLE_APP, timers=True, state_dir=state_dir,
                                  env=sample_env(azurite.connection_string, records_dir,
                                                 SAMPLE_SCHEDULE=EVERY_SECOND))
    try:
        ticks = wait_for(lambda: (found := records(records_dir, "tick")) and len(found) >= 2 and found,
                         timeout=4)
        assert all(tick == {"past_due": False} for tick in ticks)
        assert wait_for(lambda: records(records_dir, "nightly")) == [{"past_due": True}]
        assert wait_for(lambda: records(records_dir, "boot")) == [{"past_due": False}]
        status = json.loads((monitor / "nightly.json").read_text())
        assert datetime.fromisoformat(status["Next"]) > datetime.now(timezone.utc)
        assert (monitor / "boot.json").exists()
        assert not (monitor / "tick.json").exists()  # every second: schedule monitor off
        assert "The next 5 occurrences of the 'tick' schedule (Cron: '* * * * * *')" in host.logs()
    finally:
        assert host.stop() == 0


def test_invalid_schedule_fails_the_start(funchost_factory: FuncHostFactory, azurite: Any,
                                          tmp_path: Path) -> None:
    env = sample_env(azurite.connection_string, tmp_path, SAMPLE_SCHEDULE="*/5 * * * *")
    with pytest.raises(FuncHostError, match=r"function 'tick'.*'\*/5 \* \* \* \*'.*NCRONTAB"):
        funchost_factory.start(root=SAMPLE_ROOT, app=SAMPLE_APP, env=env)

