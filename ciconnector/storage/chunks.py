"""Large text in Table entities: split over several string properties (64 KiB each at most).

Table Storage counts strings as UTF-16 (2 bytes a character) against its limits of 64 KiB per
property and 1 MiB per entity, so at most :data:`MAX_CHARS` characters fit in one entity with room
for its other properties. Text with characters outside the Basic Multilingual Plane takes two
UTF-16 units each: store such text as ASCII-only JSON (``json.dumps``' default) to keep
characters and units equal.
"""
from __future__ import annotations

from typing import Mapping

CHUNK_CHARS = 30_000
"""Characters per property; UTF-16 storage makes 32 K characters the 64 KiB limit."""
MAX_CHUNKS = 16
"""Upper bound on chunks: 16 × 60 KB of UTF-16 keeps an entity under the 1 MiB entity limit."""
MAX_CHARS = CHUNK_CHARS * MAX_CHUNKS
"""The longest text one entity holds: 480,000 characters."""


class ChunkOverflowError(ValueError):
    """The text is too large to store in one entity."""


def split(prefix: str, text: str) -> dict[str, str | int]:
    """Properties ``{prefix}0..{prefix}n`` plus ``{prefix}Chunks`` holding ``text``; raises
    :class:`ChunkOverflowError` beyond :data:`MAX_CHARS`."""
    if len(text) > MAX_CHARS:
        raise ChunkOverflowError(f"{prefix} is {len(text)} characters, over {MAX_CHARS}")
    parts = [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
    props: dict[str, str | int] = {f"{prefix}{i}": part for i, part in enumerate(parts)}
    props[f"{prefix}Chunks"] = len(parts)
    return props


def join(prefix: str, entity: Mapping[str, object]) -> str:
    """The text stored by :func:`split` in ``entity``."""
    count = entity.get(f"{prefix}Chunks")
    if not isinstance(count, int):
        return ""
    return "".join(str(entity.get(f"{prefix}{i}", "")) for i in range(count))
