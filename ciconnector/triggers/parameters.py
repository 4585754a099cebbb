"""Trigger parameters: their declaration and the validation of the raw values a subscribe call sends.

A :class:`Parameter` is declared once in the catalog and serves three readers: subscribe-time
validation (:meth:`Parameter.normalize`), the existence check the HTTP adapter runs against CI
(``resource``), and the connector definition (type, enum, minimum, summary, description).
"""
from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from typing import Any, Literal, Sequence

ResourceKind = Literal["instance", "dataSource", "segment", "measure"]
"""The CI resource a parameter value names; the adapter checks that it exists."""

ParameterType = Literal["string", "integer", "number", "boolean"]

INSTANCE_ID = "instanceId"
DATA_SOURCE_ID = "dataSourceId"
SEGMENT_NAME = "segmentName"
MEASURE_NAME = "measureName"
THRESHOLD = "threshold"
DIRECTION = "direction"
INCLUDE_ON_DEMAND = "includeOnDemand"
"""Parameter names used in subscribe bodies and in the normalized parameters detection reads."""

MAX_NAME_LENGTH = 256
MAX_ABS_NUMBER = 2 ** 53
"""Largest threshold magnitude: beyond it a double (CI's measure values, Power Automate's numbers)
no longer holds every whole number, and far beyond it ``float()`` overflows."""
"""Longest segment or measure name accepted (CI names are short identifiers)."""

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class SubscriptionValidationError(ValueError):
    """A subscribe request is invalid; the HTTP adapter answers 400 with :meth:`to_dict`.

    Attributes:
        code: stable PascalCase error code, e.g. ``MissingParameter``.
        message: English sentence for the flow maker.
        field: name of the offending parameter or body field.
        status: the HTTP status, 400 unless the body is too large (413).
    """

    def __init__(self, code: str, message: str, field: str, *, status: int = 400):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str]:
        """The ``{code, message, field}`` error body."""
        return {"code": self.code, "message": self.message, "field": self.field}


@dataclass(frozen=True)
class Parameter:
    """One trigger parameter.

    Attributes:
        name: JSON name in the subscribe body (camelCase).
        type: JSON / Swagger type.
        summary: Title Case label (``x-ms-summary``).
        description: full sentence shown as help text.
        required: whether the subscribe call must send it.
        default: value used when an optional parameter is omitted.
        enum: allowed values, when restricted.
        minimum: smallest allowed number, when bounded.
        format: ``uuid`` for CI ids, else None.
        resource: the CI resource kind the value names, or None.
    """

    name: str
    type: ParameterType
    summary: str
    description: str
    required: bool = True
    default: Any = None
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    format: Literal["uuid"] | None = None
    resource: ResourceKind | None = None

    def normalize(self, raw: Any) -> Any:
        """The validated, normalized value of ``raw`` (``None`` = omitted).

        Raises :class:`SubscriptionValidationError` with ``field`` = :attr:`name`.
        """
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if self.required:
                raise self._error("MissingParameter", f"Parameter '{self.name}' is required.")
            return self.default
        value = {"string": self._string, "integer": self._integer, "number": self._number,
                 "boolean": self._boolean}[self.type](raw)
        if self.minimum is not None and value < self.minimum:
            raise self._error("ParameterOutOfRange",
                              f"Parameter '{self.name}' must be at least {_number_text(self.minimum)}.")
        return value

    def not_found(self, value: str) -> SubscriptionValidationError:
        """The error for a value that names no existing CI resource (raised by the adapter)."""
        return self._error("ResourceNotFound", f"No {self.summary.lower()} '{value}' was found in Customer Insights.")

    def _string(self, raw: Any) -> str:
        if not isinstance(raw, str):
            raise self._error("InvalidParameterType", f"Parameter '{self.name}' must be a string.")
        value = raw.strip()
        if self.format == "uuid":
            try:
                return str(uuid.UUID(value))
            except ValueError:
                raise self._error("InvalidParameter", f"Parameter '{self.name}' must be a GUID.") from None
        if self.enum is not None:
            for allowed in self.enum:
                if value.casefold() == allowed.casefold():
                    return allowed
            raise self._error("InvalidParameter",
                              f"Parameter '{self.name}' must be one of: {', '.join(self.enum)}.")
        if len(value) > MAX_NAME_LENGTH or _CONTROL_CHARACTERS.search(value):
            raise self._error("InvalidParameter",
                              f"Parameter '{self.name}' must be at most {MAX_NAME_LENGTH} printable characters.")
        return value

    def _number(self, raw: Any) -> int | float:
        if isinstance(raw, bool):
            raise self._error("InvalidParameterType", f"Parameter '{self.name}' must be a number.")
        if isinstance(raw, str):
            try:
                raw = float(raw.strip())
            except ValueError:
                raise self._error("InvalidParameterType", f"Parameter '{self.name}' must be a number.") from None
        if not isinstance(raw, (int, float)) or (isinstance(raw, float) and not math.isfinite(raw)):
            raise self._error("InvalidParameterType", f"Parameter '{self.name}' must be a finite number.")
        if abs(raw) > MAX_ABS_NUMBER:
            raise self._error("ParameterOutOfRange",
                              f"Parameter '{self.name}' must be between -{MAX_ABS_NUMBER} and {MAX_ABS_NUMBER}.")
        return int(raw) if isinstance(raw, float) and raw.is_integer() else raw

    def _integer(self, raw: Any) -> int:
        value = self._number(raw)
        if not isinstance(value, int):
            raise self._error("InvalidParameterType", f"Parameter '{self.name}' must be a whole number.")
        return value

    def _boolean(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise self._error("InvalidParameterType", f"Parameter '{self.name}' must be true or false.")

    def _error(self, code: str, message: str) -> SubscriptionValidationError:
        return SubscriptionValidationError(code, message, self.name)


def normalize_parameters(declared: Sequence[Parameter], raw: Any) -> dict[str, Any]:
    """Validate the raw ``parameters`` object of a subscribe body against ``declared``.

    Returns every declared parameter by name (omitted optional ones at their default); raises
    :class:`SubscriptionValidationError` for a non-object, an undeclared name or a bad value.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SubscriptionValidationError("InvalidParameters", "Trigger parameters must be a JSON object.",
                                          "parameters")
    names = {p.name for p in declared}
    for name in raw:
        if name not in names:
            raise SubscriptionValidationError(
                "UnknownParameter", f"Parameter '{name}' is not a parameter of this trigger.", str(name))
    return {p.name: p.normalize(raw.get(p.name)) for p in declared}


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
