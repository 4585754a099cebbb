"""Large text in Table entities: split over several string properties (64 KiB each at most)."""
from __future__ import annotations

from typing import Mapping

CHUNK_CHARS = 30_000
"""Characters per property; UTF-16 storage makes 32 K characters the 64 KiB limit."""
MAX_CHUNKS = 30
"""Upper bound on chunks, keeping an entity far below the 1 MiB entity limit."""


class ChunkOverflowError(ValueError):
    """The text is too large to store in one entity."""


def split(prefix: str, text: str) -> dict[str, str | int]:
    """Properties ``{prefix}0..{prefix}n`` plus ``{prefix}Chunks`` holding ``text``."""
    parts = [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
    if len(parts) > MAX_CHUNKS:
        raise ChunkOverflowError(f"{prefix} is {len(text)} characters, over {CHUNK_CHARS * MAX_CHUNKS}")
    props: dict[str, str | int] = {f"{prefix}{i}": part for i, part in enumerate(parts)}
    props[f"{prefix}Chunks"] = len(parts)
    return props


def join(prefix: str, entity: Mapping[str, object]) -> str:
    """The text stored by :func:`split` in ``entity``."""
    count = entity.get(f"{prefix}Chunks")
    if not isinstance(count, int):
        return ""
    return "".join(str(entity.get(f"{prefix}{i}", "")) for i in range(count))
