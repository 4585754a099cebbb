"""Read JSON with ``//`` comments (Microsoft's connector schemas carry some)."""
from __future__ import annotations

import json
from typing import Any


def strip_comments(text: str) -> str:
    """``text`` without ``//`` line comments; ``//`` inside string literals (URLs) is kept."""
    out: list[str] = []
    i, in_string = 0, False
    while i < len(text):
        char = text[i]
        if in_string:
            out.append(char)
            if char == "\\":
                out.append(text[i + 1:i + 2])
                i += 2
                continue
            in_string = char != '"'
        elif char == '"':
            in_string = True
            out.append(char)
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def loads(text: str) -> Any:
    """Parse JSON that may contain ``//`` comments (and a UTF-8 BOM)."""
    return json.loads(strip_comments(text.lstrip("\ufeff")))
