"""CI simulator CLI: prints its settings as one JSON line, serves, stops on SIGTERM/SIGINT."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dev.cisim import ApiClient, SimulatorControl

REPO = Path(__file__).resolve().parents[1]


def _start(state_dir: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen([sys.executable, "-m", "dev.cisim", "--port", "0", "--state-dir", str(state_dir)],
                               cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, json.loads(line)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_serves_and_stops(tmp_path: Path, stop_signal: signal.Signals) -> None:
    process, settings = _start(tmp_path)
    try:
        assert set(settings) == {"CI_API_BASE_URL", "CI_AUTHORITY", "CI_TENANT_ID", "CI_CLIENT_ID",
                                 "CI_CLIENT_SECRET", "CI_SUBSCRIPTION_KEY", "CI_CA_BUNDLE", "CI_SCOPE"}
        assert settings["CI_API_BASE_URL"].startswith("https://127.0.0.1:")
        api = ApiClient(settings)
        assert api.get("/instances").json()[0]["name"] == "Contoso Retail"
        api.close()
        origin = settings["CI_API_BASE_URL"].removesuffix("/v1")
        control = SimulatorControl(origin, settings["CI_CA_BUNDLE"])
        assert control.request_log()["total"] == 1
        control.close()
    finally:
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0


def test_state_dir_keeps_ca_and_credentials(tmp_path: Path) -> None:
    process, first = _start(tmp_path)
    process.terminate()
    process.wait(timeout=10)
    ca = Path(first["CI_CA_BUNDLE"]).read_bytes()
    process, second = _start(tmp_path)
    try:
        assert Path(second["CI_CA_BUNDLE"]).read_bytes() == ca
        assert second["CI_CLIENT_SECRET"] == first["CI_CLIENT_SECRET"]
        assert second["CI_SUBSCRIPTION_KEY"] == first["CI_SUBSCRIPTION_KEY"]
        api = ApiClient(second)
        assert api.get("/instances").status_code == 200
        api.close()
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
