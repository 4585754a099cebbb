"""Figures of the fuzz tests (schemathesis and the threshold subscription fuzzer), for ``python -m
bench.fuzz``: with ``FUZZ_REPORT`` set they are written there as JSON when the test process ends."""
from __future__ import annotations

import atexit
import json
import os
from collections import Counter

BUDGET = int(os.environ.get("FUZZ_BUDGET", "20"))
"""Examples per operation: small in the suite (fits CI), large on demand (``bench.fuzz --budget``)."""
SEED = 20241125

FIGURES: Counter[str] = Counter()
OPERATIONS: set[str] = set()


def record(operation: str, status: int, *, stored_on_4xx: int = 0) -> None:
    """One request of ``operation`` answered ``status``; ``stored_on_4xx`` rows left behind by a 4xx."""
    OPERATIONS.add(operation)
    FIGURES["requests"] += 1
    FIGURES["responses >= 500"] += status >= 500
    FIGURES["rows stored on a 4xx"] += stored_on_4xx if 400 <= status < 500 else 0
    FIGURES["valid subscriptions (201)"] += status == 201


def _write() -> None:
    path = os.environ.get("FUZZ_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump({"operations": len(OPERATIONS), **FIGURES}, out)


atexit.register(_write)
