"""ASP.NET Core style route templates: ``items/{id:int}``, ``files/{name?}``, ``{*rest}``.

Supported: literal segments (case-insensitive), parameters with constraints, optional
parameters (``?``), defaults (``=value``), a trailing catch-all (``{*name}``) and segments mixing
literals and parameters (``{name}.{ext}``). Precedence follows ASP.NET's inbound order: per
segment, literal < mixed < constrained parameter < plain parameter < catch-all.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Generic, Iterable, TypeVar

from .errors import HostError

T = TypeVar("T")
Check = Callable[[str], bool]

_PARAM = re.compile(r"\{([^{}]*)\}")
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT32 = (-(2 ** 31), 2 ** 31 - 1)
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _integer(value: str, bounds: tuple[int, int]) -> int | None:
    if not re.fullmatch(r"[+-]?\d+", value):
        return None
    number = int(value)
    return number if bounds[0] <= number <= bounds[1] else None


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value))


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _int_args(name: str, args: list[str], count: tuple[int, ...]) -> list[int]:
    if len(args) not in count or not all(re.fullmatch(r"-?\d+", a.strip()) for a in args):
        raise HostError(f"route constraint '{name}' needs {' or '.join(map(str, count))} integer argument(s)")
    return [int(a) for a in args]


def make_constraint(spec: str) -> Check:
    """A value check for one constraint such as ``int``, ``min(1)`` or ``regex(^a)``."""
    match = re.fullmatch(r"([A-Za-z]+)(?:\((.*)\))?", spec, re.DOTALL)
    if not match:
        raise HostError(f"invalid route constraint '{spec}'")
    name, raw = match.group(1).lower(), match.group(2)
    args = raw.split(",") if raw is not None else []
    simple: dict[str, Check] = {
        "int": lambda v: _integer(v, _INT32) is not None,
        "long": lambda v: _integer(v, _INT64) is not None,
        "bool": lambda v: v.lower() in ("true", "false"),
        "guid": _is_guid,
        "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]*", v)),
        "decimal": _is_float,
        "double": _is_float,
        "float": _is_float,
        "datetime": _is_datetime,
        "required": lambda v: v != "",
    }
    if name in simple and raw is None:
        return simple[name]
    if name == "regex" and raw is not None:
        try:
            pattern = re.compile(raw, re.IGNORECASE)
        except re.error as exc:
            raise HostError(f"invalid regex route constraint '{raw}': {exc}") from exc
        return lambda v: pattern.search(v) is not None
    if name in ("min", "max"):
        (bound,) = _int_args(name, args, (1,))
        if name == "min":
            return lambda v: (n := _integer(v, _INT64)) is not None and n >= bound
        return lambda v: (n := _integer(v, _INT64)) is not None and n <= bound
    if name == "range":
        low, high = _int_args(name, args, (2,))
        return lambda v: (n := _integer(v, _INT64)) is not None and low <= n <= high
    if name in ("minlength", "maxlength"):
        (size,) = _int_args(name, args, (1,))
        return (lambda v: len(v) >= size) if name == "minlength" else (lambda v: len(v) <= size)
    if name == "length":
        bounds = _int_args(name, args, (1, 2))
        low, high = (bounds[0], bounds[0]) if len(bounds) == 1 else bounds
        return lambda v: low <= len(v) <= high
    raise HostError(f"unsupported route constraint '{spec}'")


def _split_constraints(text: str) -> list[str]:
    """Split ``name:c1:c2(a:b)`` on colons outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == ":" and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    parts.append(current)
    return parts


@dataclass
class Parameter:
    """One ``{...}`` of a template."""

    name: str
    checks: list[Check] = field(default_factory=list)
    optional: bool = False
    default: str | None = None
    catch_all: bool = False

    @classmethod
    def parse(cls, token: str, template: str) -> "Parameter":
        """Parse the inside of ``{...}``."""
        catch_all = token.startswith("*")
        token = token.lstrip("*")
        default = None
        optional = token.endswith("?")
        if optional:
            token = token[:-1]
        name_and_constraints, sep, default_text = token.partition("=")
        if sep:
            default = default_text
        name, *constraints = _split_constraints(name_and_constraints)
        if not _PARAM_NAME.match(name):
            raise HostError(f"route '{template}': invalid parameter name '{name}'")
        return cls(name=name, checks=[make_constraint(c) for c in constraints if c],
                   optional=optional or catch_all or default is not None,
                   default=default, catch_all=catch_all)

    def accepts(self, value: str) -> bool:
        """Whether every constraint accepts ``value``."""
        return all(check(value) for check in self.checks)


@dataclass
class Segment:
    """A path segment: a literal, one parameter, or a mix (``{name}.{ext}``)."""

    literal: str | None = None
    params: list[Parameter] = field(default_factory=list)
    pattern: re.Pattern[str] | None = None

    @property
    def precedence(self) -> int:
        """ASP.NET inbound precedence digit of this segment."""
        if self.literal is not None:
            return 1
        if self.pattern is not None:
            return 2
        param = self.params[0]
        return 5 if param.catch_all else 3 if param.checks else 4

    @property
    def omittable(self) -> bool:
        """Whether the segment may be missing at the end of a path."""
        return self.pattern is None and self.literal is None and self.params[0].optional

    def match(self, value: str) -> dict[str, str] | None:
        """Route values captured by this segment, or None when it does not match."""
        if self.literal is not None:
            return {} if value.lower() == self.literal.lower() else None
        if self.pattern is not None:
            found = self.pattern.fullmatch(value)
            if not found:
                return None
            values = found.groupdict()
            return values if all(p.accepts(values[p.name]) for p in self.params) else None
        param = self.params[0]
        return {param.name: value} if value and param.accepts(value) else None


class RouteTemplate:
    """A compiled route template."""

    def __init__(self, template: str) -> None:
        self.template = template.strip("/")
        self.segments = [self._segment(part) for part in self.template.split("/")] if self.template else []
        names = [p.name.lower() for s in self.segments for p in s.params]
        if len(names) != len(set(names)):
            raise HostError(f"route '{template}': a parameter name is used twice")
        for index, segment in enumerate(self.segments):
            if segment.params and segment.params[0].catch_all and index != len(self.segments) - 1:
                raise HostError(f"route '{template}': a catch-all parameter must be the last segment")

    def _segment(self, part: str) -> Segment:
        if not part:
            raise HostError(f"route '{self.template}': empty segment")
        tokens = _PARAM.split(part)
        if len(tokens) == 1:
            if "{" in part or "}" in part:
                raise HostError(f"route '{self.template}': unbalanced braces in '{part}'")
            return Segment(literal=part)
        params = [Parameter.parse(token, self.template) for token in tokens[1::2]]
        if len(tokens) == 3 and tokens[0] == tokens[2] == "":
            return Segment(params=params)
        if any(p.catch_all or p.optional for p in params):
            raise HostError(f"route '{self.template}': optional or catch-all parameters must fill a segment")
        regex = "".join(re.escape(text) if i % 2 == 0 else f"(?P<{params[i // 2].name}>.+?)"
                        for i, text in enumerate(tokens))
        return Segment(params=params, pattern=re.compile(regex, re.IGNORECASE | re.DOTALL))

    @property
    def precedence(self) -> tuple[int, ...]:
        """Sort key: lower routes are tried first."""
        return tuple(segment.precedence for segment in self.segments)

    def match(self, path: str) -> dict[str, str] | None:
        """Route parameters for ``path`` (relative to the route prefix), or None."""
        parts = path.strip("/").split("/") if path.strip("/") else []
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.params and segment.params[0].catch_all:
                rest = "/".join(parts[index:])
                param = segment.params[0]
                if rest:
                    values[param.name] = rest
                elif param.default is not None:
                    values[param.name] = param.default
                return values
            if index >= len(parts):
                if not segment.omittable:
                    return None
                if segment.params[0].default is not None:
                    values[segment.params[0].name] = segment.params[0].default
                continue
            captured = segment.match(parts[index])
            if captured is None:
                return None
            values.update(captured)
        return values if len(parts) <= len(self.segments) else None


@dataclass
class Route(Generic[T]):
    """A template, its allowed methods (None = all) and the target it leads to."""

    template: RouteTemplate
    methods: frozenset[str] | None
    target: T


class Router(Generic[T]):
    """Picks the target for a path and method, trying routes in precedence order."""

    def __init__(self, routes: Iterable[Route[T]]) -> None:
        self.routes = sorted(routes, key=lambda r: r.template.precedence)

    def match(self, path: str, method: str) -> tuple[T, dict[str, str]] | None:
        """The first route whose template and methods match, with its route values."""
        for route in self.routes:
            if route.methods is not None and method.upper() not in route.methods:
                continue
            values = route.template.match(path)
            if values is not None:
                return route.target, values
        return None
