"""Action declarations: each action is declared once, as an :class:`Action`.

An action is an :class:`~ciconnector.operations.Operation` (route, method, params, responses:
what the HTTP adapter, the validator and the connector definition read) plus the handler that
computes its answer from a validated :class:`Call`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ciconnector.customer_insights import CustomerInsightsClient
from ciconnector.operations import Operation
from ciconnector.operations.common import ERROR_RESPONSES
from ciconnector.settings import Settings

MAX_BODY_BYTES = 1024 * 1024
"""Largest action body accepted (413 beyond): a CI item is a few kilobytes; 1 MiB leaves room
for wide entities without letting a flow push megabytes through to CI."""

@dataclass(frozen=True)
class Call:
    """A validated call handed to an action's handler.

    Attributes:
        args: every declared parameter by name, converted to its type.
        ci: the shared CI client.
        settings: the app settings.
        url: the request URL (to build ``@odata.nextLink``).
    """

    args: Mapping[str, Any]
    ci: CustomerInsightsClient
    settings: Settings
    url: str = ""

    @property
    def instance_id(self) -> str:
        """The (lower-cased, allowlisted) instance id: ``instanceId``, or ``dataset`` where the
        reference connector names it so."""
        return self.args["instanceId"] if "instanceId" in self.args else self.args["dataset"]


@dataclass(frozen=True, kw_only=True)
class Action(Operation):
    """One HTTP action of the connector: an :class:`~ciconnector.operations.Operation` whose
    ``responses`` are its success response followed by :data:`ERROR_RESPONSES`.

    Attributes (beyond the operation's):
        response: JSON schema of the success body.
        handler: computes the success body from a validated :class:`Call`.
        response_description: description of the success response.
        status: HTTP status of success.
    """

    response: Mapping[str, Any]
    handler: Callable[[Call], Any] = field(repr=False, compare=False)
    response_description: str = "OK"
    status: int = 200
    max_body_bytes: int = MAX_BODY_BYTES

    def __post_init__(self) -> None:
        success = {"description": self.response_description, "schema": dict(self.response)}
        object.__setattr__(self, "responses", {str(self.status): success, **ERROR_RESPONSES})
