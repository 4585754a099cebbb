"""``python -m bench.fuzz --budget N`` (``make fuzz``): the suite's fuzz tests with a large budget.

Runs schemathesis over every operation of the connector definition and the threshold subscription
fuzzer (valid and invalid subscriptions) against Azurite, the CI simulator and the local host, with
``N`` examples per operation and the suite's fixed seed, then prints the figures recorded in
docs/BENCHMARKS.md. Exits non-zero when a test failed or either must-be-zero figure is not 0.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = ("tests/test_connector_schemathesis.py", "tests/test_connector_fuzz_thresholds.py")
MUST_BE_ZERO = ("responses >= 500", "rows stored on a 4xx")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=500, help="examples per operation (default 500)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fuzz-") as workdir:
        report = Path(workdir) / "figures.json"
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],
                                env={**os.environ, "FUZZ_BUDGET": str(args.budget), "FUZZ_REPORT": str(report)},
                                check=False)
        figures = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    print(f"budget {args.budget} examples per operation, {time.monotonic() - started:.0f} s")
    for name in ("operations", "requests", "valid subscriptions (201)", *MUST_BE_ZERO):
        print(f"{name:>28}: {figures.get(name, 0)}")
    return 1 if result.returncode or any(figures.get(n, 0) for n in MUST_BE_ZERO) or not figures else 0


if __name__ == "__main__":
    sys.exit(main())
