"""The parameter model of every HTTP operation (actions, trigger subscribe, unsubscribe).

A :class:`Param` is read by three parties that must agree: the validator
(:mod:`ciconnector.operations.validation`), the existence checks of the operation's service
(``resource``), and the connector definition (:mod:`ciconnector.connector.emitter`). Every
constraint the validator enforces is a field here, so it is published as the matching Swagger
keyword; the one exception is :attr:`Param.rule`, for the callback URL, which no keyword can state.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

Location = Literal["path", "query", "body", "field"]
"""``field`` is a property of the JSON body object; it appears only in a body parameter's ``fields``."""
ParamType = Literal["string", "integer", "number", "boolean", "object"]
Visibility = Literal["important", "advanced", "internal"]
ResourceKind = Literal["instance", "dataSource", "segment", "measure"]
"""The CI resource a parameter value names, for the existence checks (instance allowlist, subscribe)."""

GUID_PATTERN = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"
"""A CI resource name (entity, segment, measure, data source): letters, digits, ``_ . -``."""
NAME_MAX_LENGTH = 128
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
"""Free text without control characters."""
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
"""Text without C0 or C1 control characters (the trigger name parameters, stored and shown back)."""


@dataclass(frozen=True)
class Picker:
    """A designer dropdown filled by another operation (``x-ms-dynamic-values``).

    Attributes:
        operation_id: the operation listing the values (an internal lookup).
        value_path: field of each listed item that becomes the parameter value.
        title_path: field of each listed item shown to the maker.
        parameters: the lookup's parameters: ``{name: "@otherParameter"}`` passes another
            parameter of the calling operation, any other value is passed literally.
        collection: field of the lookup's answer holding the items.
    """

    operation_id: str
    value_path: str
    title_path: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    collection: str = "value"


@dataclass(frozen=True)
class Param:
    """One input of an operation.

    Attributes:
        name: wire name (path segment name, query key, body field name, or ``body``).
        location: ``path``, ``query``, ``body`` or ``field`` (a property of the body object).
        type: Swagger type; ``object`` only for the body.
        summary: Title Case label (``x-ms-summary``).
        description: help text, a full sentence.
        required: whether the caller must send it (path parameters always are).
        default: value used when an optional parameter is omitted.
        enum: allowed values (matched case-insensitively, answered in the declared case).
        minimum / maximum: bounds of a number.
        max_length: longest accepted string.
        pattern: regular expression a string must match (anchored, ECMA and Python compatible).
        format: Swagger format; ``uuid`` values are also lower-cased.
        visibility: ``x-ms-visibility`` in the designer, when not the default.
        picker: dropdown source, for values naming a CI resource.
        resource: the CI resource kind the value names, for the existence checks.
        schema: JSON schema of a free-form body (``location == "body"`` without ``fields``).
        fields: the properties of a body object (``location == "body"``), each a ``field`` Param.
        rule: check of a field's raw value beyond what Swagger keywords say; it replaces the
            declared checks and owns the missing case (the callback URL rule: its own error codes).
        notification_url: the field carries the flow's callback URL (``x-ms-notification-url``).
    """

    name: str
    location: Location
    type: ParamType
    summary: str
    description: str
    required: bool = False
    default: Any = None
    enum: tuple[str, ...] | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    max_length: int | None = None
    pattern: str | None = None
    format: str | None = None
    visibility: Visibility | None = None
    picker: Picker | None = None
    resource: ResourceKind | None = None
    schema: Mapping[str, Any] | None = None
    fields: tuple[Param, ...] = ()
    rule: Callable[[Any], Any] | None = field(default=None, repr=False, compare=False)
    notification_url: bool = False
