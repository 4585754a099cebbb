"""Reading a JSON request body safely: one reader for subscribe and every action.

Python's ``json`` module accepts documents that later code cannot handle: escapes that decode to
lone surrogates (``"\\ud800"``), which no UTF-8 encoder (the storage SDK, ``requests``) can send
on; nesting deep enough to exhaust the interpreter's recursion limit; and bodies of any size.
Each of those used to surface as a 500. This reader turns every one into an
:class:`~ciconnector.errors.InvalidInput` (or :class:`~ciconnector.errors.PayloadTooLarge`), answered
as a 4xx with a JSON body before anything is stored or forwarded.
"""
from __future__ import annotations

import json
from typing import Any

from .errors import InvalidInput, PayloadTooLarge

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted (a CI item or a subscription is 2–3 deep)."""

_JSON_MEDIA_SUFFIX = "+json"


def is_json_media_type(content_type: str) -> bool:
    """Whether ``content_type`` names JSON (``application/json`` or a ``+json`` type)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith(_JSON_MEDIA_SUFFIX)


def read_json(body: bytes, content_type: str, *, max_bytes: int, field: str = "body",
              max_depth: int = MAX_DEPTH) -> Any:
    """The JSON document in ``body``; raises :class:`~ciconnector.errors.InvalidInput` naming
    ``field`` for anything unusable (:class:`~ciconnector.errors.PayloadTooLarge` when too large).

    Checked in order of cost: size (413), media type, UTF-8 and JSON syntax, nesting depth, and
    lone surrogates in any string or key (400).
    """
    if len(body) > max_bytes:
        raise PayloadTooLarge("BodyTooLarge", f"The request body must be at most {max_bytes} bytes.", field=field)
    if not is_json_media_type(content_type):
        raise InvalidInput("UnsupportedContentType", "The request body must be sent as application/json.",
                           field=field)
    try:
        value = json.loads(body)
    except RecursionError:
        raise _too_deep(max_depth, field) from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("InvalidJson", "The request body is not valid JSON.", field=field) from None
    _check_tree(value, max_depth, field)
    return value


def _too_deep(max_depth: int, field: str) -> InvalidInput:
    return InvalidInput("JsonTooDeep", f"The request body nests objects and arrays more than {max_depth} deep.",
                        field=field)


def _check_tree(value: Any, max_depth: int, field: str) -> None:
    """Depth and string checks without recursion (the document may be deep by design of an attacker)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, field)
        elif isinstance(item, (dict, list)):
            if depth >= max_depth:
                raise _too_deep(max_depth, field)
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key, field)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_text(text: str, field: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("InvalidUnicode",
                           "The request body holds a string that is not valid Unicode (a lone surrogate escape).",
                           field=field) from None
