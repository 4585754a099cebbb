"""``make bench``: prints the benchmark figures recorded in docs/BENCHMARKS.md.

    python -m bench                # everything
    python -m bench platform       # simulator, CI client and local host throughput
    python -m bench triggers       # poll cycles, deliveries, event-to-callback latency

Starts its own Azurite, CI simulator, callback receiver and (for HTTP figures) local host; talks to
127.0.0.1 only. Absolute times on shared machines are noisy: compare ratios taken in one run.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from dev.azurite import Azurite
from dev.cisim import CISimulator
from dev.receiver import CallbackReceiver

from . import platform, triggers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="*", help="platform and/or triggers (default: both)")
    parser.add_argument("--quick", action="store_true", help="fewer iterations and sizes (for a smoke run)")
    args = parser.parse_args(argv)
    suites = args.suites or ["platform", "triggers"]
    unknown = set(suites) - {"platform", "triggers"}
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir, Azurite() as azurite, \
            CISimulator(port=0, state_dir=Path(workdir) / "cisim") as simulator, \
            CallbackReceiver(Path(workdir) / "receiver") as receiver:
        env = {"AzureWebJobsStorage": azurite.connection_string, **simulator.settings_env(),
               "CALLBACK_ALLOWED_HOSTS": receiver.host, "CALLBACK_CA_BUNDLE": receiver.ca_path}
        if "platform" in suites:
            platform.run(env, simulator, Path(workdir), quick=args.quick)
        if "triggers" in suites:
            triggers.run(env, simulator, receiver, Path(workdir), quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
