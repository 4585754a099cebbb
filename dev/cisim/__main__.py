"""``python -m dev.cisim --port 8443 [--state-dir DIR]``.

Prints the app settings (``settings_env()``) as one JSON line on stdout once serving, then runs
until SIGINT or SIGTERM.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from .auth import DEFAULT_SCOPE
from .simulator import CISimulator


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m dev.cisim", description="Customer Insights API v1 simulator")
    parser.add_argument("--port", type=int, default=8443, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--state-dir", help="keeps the CA and credentials across restarts (default: temporary)")
    parser.add_argument("--scope", action="append", help=f"accepted token scope (repeatable; default {DEFAULT_SCOPE})")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    with CISimulator(port=args.port, state_dir=args.state_dir, scopes=args.scope or (DEFAULT_SCOPE,),
                     verbose=args.verbose) as sim:
        print(json.dumps(sim.settings_env()), flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
