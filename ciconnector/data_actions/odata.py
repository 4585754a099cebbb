"""Building OData filters from maker input: identifiers are validated, literals escaped.

A value never goes into a filter raw: a string literal is quoted with its single quotes doubled
(OData ABNF ``SQUOTE-in-string``), and a field name must be a plain identifier.
"""
from __future__ import annotations

import re

from ciconnector.errors import InvalidInput

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
"""An OData property name: a letter or underscore, then letters, digits, underscores."""

MAX_LITERAL_LENGTH = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def identifier(value: str, field: str) -> str:
    """``value`` when it is a plain OData identifier, else a 400 naming ``field``."""
    if not re.fullmatch(IDENTIFIER, value):
        raise InvalidInput("InvalidIdentifier",
                           f"'{field}' must be a field name: letters, digits and underscores.", field=field)
    return value


def string_literal(value: str, field: str) -> str:
    """``value`` as a quoted OData string literal (``'O''Brien'``), refusing control characters."""
    if len(value) > MAX_LITERAL_LENGTH or _CONTROL.search(value):
        raise InvalidInput("InvalidValue",
                           f"'{field}' must be at most {MAX_LITERAL_LENGTH} printable characters.", field=field)
    return "'" + value.replace("'", "''") + "'"


def equals(field_name: str, value: str, *, name_field: str, value_field: str) -> str:
    """The filter ``<field_name> eq '<value>'`` with both parts checked."""
    return f"{identifier(field_name, name_field)} eq {string_literal(value, value_field)}"
