"""``python -m dev.funchost``: run the local Functions host until SIGINT/SIGTERM.

When ready it prints one JSON line on stdout:
``{"event": "funchost.ready", "pid": .., "base_url": .., "function_key": .., "master_key": ..,
"functions": [..]}``.
Logs go to stderr.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from .errors import HostError
from .host import FunctionHost
from .settings import read_local_settings

DEFAULT_PORT = 7071


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m dev.funchost",
                                     description="Local Azure Functions host for Python v2 apps.")
    parser.add_argument("--port", type=int, default=None,
                        help="HTTP port (default: Host.LocalHttpPort of local settings, else 7071; "
                             "0 = a free port)")
    parser.add_argument("--app", default="function_app", help="module defining the FunctionApp")
    parser.add_argument("--root", default=".", help="app root with host.json and local settings")
    parser.add_argument("--no-timers", action="store_true", help="do not run timers on their schedule")
    parser.add_argument("--state-dir", default=None,
                        help="timer schedule status directory (default: <root>/.dev/funchost)")
    parser.add_argument("--log-level", default="INFO", help="log level (default INFO)")
    return parser.parse_args(argv)


def configure_logging(level: str) -> None:
    """Host and function logs to stderr; SDK request logs (full URLs) kept quiet."""
    logging.basicConfig(stream=sys.stderr, level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("azure", "urllib3", "werkzeug"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Start the host, print the readiness line, wait for a signal, stop gracefully."""
    args = parse_args(argv)
    configure_logging(args.log_level)
    root = Path(args.root).resolve()
    port = args.port
    if port is None:
        _, local = read_local_settings(root)
        port = int((local.get("Host") or {}).get("LocalHttpPort") or DEFAULT_PORT)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():
            os._exit(128 + signum)  # second signal: give up on a graceful stop
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    host = FunctionHost(root, app_module=args.app, port=port, run_timers=not args.no_timers,
                        state_dir=args.state_dir or root / ".dev" / "funchost")
    try:
        host.start()
    except HostError as exc:
        print(f"funchost: error: {exc}", file=sys.stderr, flush=True)
        return 2
    print(json.dumps(host.ready_info()), flush=True)
    while not stop.wait(0.5):
        pass
    logging.getLogger("funchost").info("Stopping: finishing in-flight invocations")
    host.stop()
    logging.getLogger("funchost").info("Stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
