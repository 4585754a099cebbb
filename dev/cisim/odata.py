"""A safe subset of OData query options over in-memory rows.

``$filter`` grammar (anything else is a 400)::

    expr    := and ('or' and)*
    and     := unary ('and' unary)*
    unary   := 'not' unary | '(' expr ')' | IsMemberOfSegment('name')
             | Field (eq|ne|gt|ge|lt|le) literal | Field in (literal, ...)
    literal := 'string' | number | true | false | null | 2017-01-01T00:00:00Z

Operand types must match the column type (string, number, boolean, dateTime), like OData's
"incompatible types" check. String comparisons are case-sensitive.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, NoReturn

from .errors import CIError
from .state import Table

Row = dict[str, Any]
Predicate = Callable[[Row], bool]
SegmentLookup = Callable[[str], "set[str] | None"]

_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[(),])
  )""", re.VERBOSE)
_COMPARE = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b,
            "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}
_LITERAL_KINDS = {"string": "string", "decimal": "number", "int64": "number", "boolean": "boolean",
                  "dateTime": "datetime"}
_EDM = {"string": "Edm.String", "number": "Edm.Decimal", "boolean": "Edm.Boolean", "datetime": "Edm.DateTimeOffset"}


def bad_request(code: str, message: str) -> CIError:
    """A 400 rendered as ``ODataError``."""
    return CIError(400, code, message)


def parse_datetime(text: str) -> datetime:
    """An ISO date or date-time; naive values are taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            return
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise bad_request("InvalidFilter", f"Syntax error at position {pos} in $filter '{text}'.")
        pos = match.end()
        kind = match.lastgroup
        assert kind is not None
        yield kind, match.group(kind)


class _FilterParser:
    def __init__(self, text: str, table: Table, segments: SegmentLookup) -> None:
        self.text, self.table, self.segments = text, table, segments
        self.tokens = list(_tokens(text))
        self.pos = 0

    def parse(self) -> Predicate:
        predicate = self._or()
        if self.pos != len(self.tokens):
            self._fail(f"unexpected '{self.tokens[self.pos][1]}'")
        return predicate

    def _fail(self, why: str) -> NoReturn:
        raise bad_request("InvalidFilter", f"Invalid $filter '{self.text}': {why}.")

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def _take(self, value: str | None = None) -> tuple[str, str]:
        token = self._peek()
        if token[0] == "end" or (value is not None and token[1] != value):
            self._fail(f"expected '{value}'" if value else "unexpected end of expression")
        self.pos += 1
        return token

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._peek() == ("word", "or"):
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._unary()]
        while self._peek() == ("word", "and"):
            self._take()
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def _unary(self) -> Predicate:
        kind, value = self._peek()
        if (kind, value) == ("word", "not"):
            self._take()
            inner = self._unary()
            return lambda row: not inner(row)
        if (kind, value) == ("punct", "("):
            self._take()
            inner = self._or()
            self._take(")")
            return inner
        if kind != "word":
            self._fail(f"unexpected '{value}'")
        self._take()
        if value == "IsMemberOfSegment":
            return self._segment()
        return self._comparison(value)

    def _segment(self) -> Predicate:
        self._take("(")
        kind, literal = self._take()
        self._take(")")
        if kind != "string":
            self._fail("IsMemberOfSegment expects a quoted segment name")
        if self.table.attribute("CustomerId") is None:
            self._fail(f"IsMemberOfSegment is not supported on '{self.table.name}'")
        name = literal[1:-1].replace("''", "'")
        members = self.segments(name)
        if members is None:
            self._fail(f"segment '{name}' does not exist")
        return lambda row: str(row.get("CustomerId")) in members

    def _comparison(self, field: str) -> Predicate:
        attribute = self.table.attribute(field)
        if attribute is None:
            raise bad_request("InvalidFilter", f"Could not find a property named '{field}' on '{self.table.name}'.")
        expected = _LITERAL_KINDS.get(attribute.data_type, "string")
        _, op = self._take()
        if op == "in":
            self._take("(")
            values = [self._literal(expected)]
            while self._peek() == ("punct", ","):
                self._take()
                values.append(self._literal(expected))
            self._take(")")
            return lambda row: _value(row, field, expected) in values
        if op not in _COMPARE:
            self._fail(f"unsupported operator '{op}'")
        literal = self._literal(expected)
        compare = _COMPARE[op]
        if literal is None:
            if op not in ("eq", "ne"):
                self._fail(f"'{op}' cannot compare with null")
            return lambda row: compare(_value(row, field, expected), None)

        def predicate(row: Row) -> bool:
            current = _value(row, field, expected)
            return current is not None and compare(current, literal)
        return predicate

    def _literal(self, expected: str) -> Any:
        kind, text = self._take()
        if kind == "word" and text == "null":
            return None
        value: Any
        if kind == "string":
            found, value = "string", text[1:-1].replace("''", "'")
        elif kind == "number":
            found, value = "number", float(text) if any(c in text for c in ".eE") else int(text)
        elif kind == "word" and text in ("true", "false"):
            found, value = "boolean", text == "true"
        elif kind == "datetime":
            found, value = "datetime", parse_datetime(text)
        else:
            raise bad_request("InvalidFilter", f"Invalid $filter '{self.text}': '{text}' is not a literal.")
        if found != expected:
            raise bad_request("InvalidFilter", "A binary operator with incompatible types was detected. "
                                               f"Found operand types '{_EDM[expected]}' and '{_EDM[found]}'.")
        return value


def _value(row: Row, field: str, kind: str) -> Any:
    value = row.get(field)
    if kind == "datetime" and isinstance(value, str):
        return parse_datetime(value)
    return value


def parse_filter(text: str, table: Table, segments: SegmentLookup) -> Predicate:
    """Compile ``$filter`` for ``table``; ``segments`` maps a segment name to its member ids (None = unknown)."""
    return _FilterParser(text, table, segments).parse()


def parse_orderby(text: str, table: Table) -> list[tuple[str, bool]]:
    """``Field [asc|desc], ...`` as (field, descending) pairs."""
    order = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise bad_request("InvalidOrderBy", f"Invalid $orderby '{text}'.")
        if table.attribute(words[0]) is None:
            raise bad_request("InvalidOrderBy", f"Could not find a property named '{words[0]}' on '{table.name}'.")
        order.append((words[0], len(words) == 2 and words[1] == "desc"))
    return order


def sort_rows(rows: list[Row], order: list[tuple[str, bool]]) -> list[Row]:
    """Rows sorted by ``order`` (stable, nulls first ascending)."""
    for field, descending in reversed(order):
        rows = sorted(rows, key=lambda r: (r.get(field) is not None, r.get(field) if r.get(field) is not None else 0),
                      reverse=descending)
    return rows


def parse_select(text: str, table: Table) -> list[str] | None:
    """``$select`` field list; None for ``*`` (all columns)."""
    fields = [f.strip() for f in text.split(",")]
    if fields == ["*"]:
        return None
    for field in fields:
        if table.attribute(field) is None:
            raise bad_request("InvalidSelect", f"Could not find a property named '{field}' on '{table.name}'.")
    return fields


def search_rows(rows: list[Row], term: str, table: Table) -> list[Row]:
    """Rows where any string column contains ``term`` (case-insensitive; surrounding quotes dropped)."""
    needle = term.strip().strip('"').lower()
    columns = [a.name for a in table.attributes if a.data_type == "string"]
    return [r for r in rows if any(needle in str(r.get(c) or "").lower() for c in columns)]


def parse_count(name: str, text: str | None) -> int | None:
    """A non-negative ``$top``/``$skip`` value (they arrive as strings)."""
    if text is None:
        return None
    if not text.strip().isdigit():
        raise bad_request("InvalidPaging", f"The value '{text}' of {name} is not a non-negative integer.")
    return int(text)
