"""The declaration of one HTTP operation of the connector, whatever serves it.

Actions (:class:`ciconnector.data_actions.Action`), each trigger kind's subscribe operation
(:attr:`ciconnector.trigger_kinds.TriggerKind.subscribe`) and the unsubscribe operation are all an
:class:`Operation`: the Functions adapters register its route and method, the validator reads its
params, and the connector definition is emitted from it alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from .params import Param, Visibility

Method = Literal["GET", "POST", "PATCH", "DELETE"]


@dataclass(frozen=True)
class Operation:
    """One HTTP operation.

    Attributes:
        operation_id: PascalCase operationId, also the Functions function name.
        method: HTTP method.
        route: route under ``/api`` with ``{name}`` placeholders, e.g. ``instances/{instanceId}/entities``.
        summary: sentence-case title shown in the designer (at most 80 characters).
        description: full sentence(s) describing the operation.
        params: inputs, in designer (and validation) order.
        responses: Swagger responses by status code.
        visibility: ``x-ms-visibility`` of the operation.
        trigger_hint: makes the operation a webhook trigger (``x-ms-trigger``) with this hint.
        notification: ``x-ms-notification-content`` of a trigger (description and schema).
        preview: marks the operation Preview (``x-ms-api-annotation``).
        pageable: the body carries ``@odata.nextLink`` when more rows exist (``x-ms-pageable``).
        max_body_bytes: largest request body accepted (413 beyond); 0 for operations without a body.
    """

    operation_id: str
    method: Method
    route: str
    summary: str
    description: str
    params: tuple[Param, ...]
    responses: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    visibility: Visibility = "important"
    trigger_hint: str | None = None
    notification: Mapping[str, Any] | None = None
    preview: bool = False
    pageable: bool = False
    max_body_bytes: int = 0

    @property
    def path(self) -> str:
        """The route as a Swagger path (relative to the ``/api`` base path)."""
        return "/" + self.route

    def param(self, name: str) -> Param | None:
        """The declared parameter called ``name`` (body fields included)."""
        return next((p for p in self.all_params() if p.name == name), None)

    def all_params(self) -> tuple[Param, ...]:
        """Every parameter, with each body's fields right after the body."""
        return tuple(q for p in self.params for q in (p, *p.fields))
