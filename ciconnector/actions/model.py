"""Action declarations: each action is declared once, as an :class:`Action`.

The same declaration drives the HTTP adapter (route, method), input validation
(:mod:`ciconnector.actions.inputs`) and the connector definition (:mod:`ciconnector.connector`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

if TYPE_CHECKING:
    from .runner import Call

Location = Literal["path", "query", "body"]
ParamType = Literal["string", "integer", "number", "boolean", "object"]
Visibility = Literal["important", "advanced", "internal"]
Method = Literal["GET", "POST", "PATCH", "DELETE"]


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
    """One input of an action.

    Attributes:
        name: wire name (path segment name, query key, or ``body``).
        location: ``path``, ``query`` or ``body``.
        type: Swagger type; ``object`` only for the body.
        summary: Title Case label (``x-ms-summary``).
        description: help text, a full sentence.
        required: whether the caller must send it (path parameters always are).
        default: value used when an optional parameter is omitted.
        enum: allowed values.
        minimum / maximum: bounds of a number.
        max_length: longest accepted string.
        pattern: regular expression a string must match (anchored, ECMA and Python compatible).
        format: Swagger format, e.g. ``uuid``.
        visibility: ``x-ms-visibility`` in the designer, when not the default.
        picker: dropdown source, for values naming a CI resource.
        schema: JSON schema of the body (``location == "body"`` only).
    """

    name: str
    location: Location
    type: ParamType
    summary: str
    description: str
    required: bool = False
    default: Any = None
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    format: str | None = None
    visibility: Visibility | None = None
    picker: Picker | None = None
    schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Action:
    """One HTTP action of the connector.

    Attributes:
        operation_id: PascalCase operationId, also the Functions function name.
        method: HTTP method.
        route: route under ``/api`` with ``{name}`` placeholders, e.g. ``instances/{instanceId}/entities``.
        summary: sentence-case title shown in the designer (at most 80 characters).
        description: full sentence(s) describing the action.
        params: inputs, in designer order.
        response: JSON schema of the success body.
        handler: computes the success body from a validated :class:`~ciconnector.actions.runner.Call`.
        response_description: description of the success response.
        status: HTTP status of success.
        visibility: ``x-ms-visibility`` of the operation.
        preview: marks the operation Preview (``x-ms-api-annotation``).
        pageable: the body carries ``@odata.nextLink`` when more rows exist (``x-ms-pageable``).
    """

    operation_id: str
    method: Method
    route: str
    summary: str
    description: str
    params: tuple[Param, ...]
    response: Mapping[str, Any]
    handler: Callable[["Call"], Any] = field(repr=False, compare=False)
    response_description: str = "OK"
    status: int = 200
    visibility: Visibility = "important"
    preview: bool = False
    pageable: bool = False

    @property
    def path(self) -> str:
        """The route as a Swagger path (relative to the ``/api`` base path)."""
        return "/" + self.route

    def param(self, name: str) -> Param | None:
        """The declared parameter called ``name``."""
        return next((p for p in self.params if p.name == name), None)
