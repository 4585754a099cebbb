"""Records what sample functions did, as JSON lines in files under the SAMPLE_STATE_DIR setting."""
import json
import os
import threading
from pathlib import Path

_lock = threading.Lock()


def _path(kind: str) -> Path:
    return Path(os.environ["SAMPLE_STATE_DIR"]) / f"{kind}.jsonl"


def record(kind: str, **data: object) -> None:
    """Append one record of ``kind``."""
    with _lock, _path(kind).open("a", encoding="utf-8") as file:
        file.write(json.dumps(data) + "\n")


def records(kind: str) -> list[dict]:
    """All records of ``kind``."""
    path = _path(kind)
    if not path.exists():
        return []
    with _lock:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
