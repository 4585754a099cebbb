"""Run the local host as a child process and wait for its readiness line (make run, bench, tests)."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Mapping

READY_EVENT = "funchost.ready"
REPO_ROOT = Path(__file__).resolve().parents[2]


class HostProcessError(RuntimeError):
    """The host process exited or stayed silent before it was ready."""


def start_host_process(root: Path, env: Mapping[str, str], *, port: int = 0, timers: bool = True,
                       app: str = "function_app", state_dir: Path | None = None, log: IO[str] | None = None,
                       timeout: float = 60.0) -> tuple[subprocess.Popen[str], dict]:
    """``python -m dev.funchost`` in ``root`` with ``env`` added; returns the process and its ready info
    (``base_url``, ``function_key``, ``master_key``, ``functions``). Logs go to ``log`` (default: our
    stderr). Raises :class:`HostProcessError` (after stopping the process) when it is not ready in time."""
    command = [sys.executable, "-m", "dev.funchost", "--root", str(root), "--app", app, "--port", str(port)]
    command += ["--state-dir", str(state_dir)] if state_dir is not None else []
    command += [] if timers else ["--no-timers"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            stop_host_process(process)
            raise HostProcessError(f"the local host was not ready within {timeout} s") from None
        if line is None:
            raise HostProcessError(f"the local host exited with {process.wait()} before it was ready")
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == READY_EVENT:
            return process, record


def _pump(stream: IO[str] | None, lines: "queue.Queue[str | None]") -> None:
    """Forward stdout lines (and keep draining it after readiness, so the host never blocks on a full pipe)."""
    if stream is not None:
        for line in stream:
            lines.put(line)
    lines.put(None)


def stop_host_process(process: subprocess.Popen[str], timeout: float = 30.0) -> int:
    """SIGTERM (a graceful stop), SIGKILL after ``timeout``; returns the exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
