"""Start the local host as a child process and wait for its readiness line (for make run and bench)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Mapping

READY_EVENT = "funchost.ready"


def start_host_process(root: Path, env: Mapping[str, str], *, port: int = 0, timers: bool = True,
                       app: str = "function_app", log: IO[str] | None = None) -> tuple[subprocess.Popen[str], dict]:
    """``python -m dev.funchost`` in ``root`` with ``env`` added; returns the process and its ready info
    (``base_url``, ``function_key``, ``master_key``, ``functions``). Logs go to ``log`` (default: our stderr)."""
    command = [sys.executable, "-m", "dev.funchost", "--root", str(root), "--app", app, "--port", str(port)]
    process = subprocess.Popen(command + ([] if timers else ["--no-timers"]), cwd=root,
                               env={**os.environ, **env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=log,
                               text=True)
    assert process.stdout is not None
    for line in process.stdout:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == READY_EVENT:
            stdout = process.stdout
            threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()
            return process, record
    raise RuntimeError(f"the local Functions host exited with {process.wait()} before it was ready")


def stop_host_process(process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
