"""Runs one action for one HTTP request: validate, check the instance allowlist, call CI, map errors."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from ciconnector.customer_insights import CustomerInsightsClient, CustomerInsightsError
from ciconnector.settings import Settings

from .errors import ActionError, from_ci_error, not_found
from .inputs import RawRequest, parse_inputs
from .model import Action

logger = logging.getLogger(__name__)


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
        """The (lower-cased, allowlisted) instance id."""
        return self.args["instanceId"]


@dataclass(frozen=True)
class Outcome:
    """The HTTP answer: status, JSON body and extra headers."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


def allowed_instance(instance_id: str, settings: Settings) -> bool:
    """Whether ``instance_id`` passes the ``CI_INSTANCE_IDS`` allowlist (empty = all pass)."""
    return not settings.instance_ids or instance_id.lower() in settings.instance_ids


def execute(action: Action, request: RawRequest, *, ci: CustomerInsightsClient, settings: Settings) -> Outcome:
    """Answer ``request`` with ``action``; never raises, never reveals a stack trace."""
    try:
        args = parse_inputs(action, request)
        if "instanceId" in args:
            args["instanceId"] = args["instanceId"].lower()
            if not allowed_instance(args["instanceId"], settings):
                raise not_found("InstanceNotFound", "No such Customer Insights instance is available.",
                                "instanceId")
        body = action.handler(Call(args, ci, settings, request.url))
        return Outcome(action.status, body)
    except CustomerInsightsError as exc:
        error = from_ci_error(exc)
        logger.info("%s: CI error %s (HTTP %s) -> %d", action.operation_id, type(exc).__name__,
                    exc.status, error.status)
    except ActionError as exc:
        error = exc
    except Exception:
        logger.exception("%s failed", action.operation_id)
        error = ActionError(500, "InternalError", "The connector backend failed; the error was logged.")
    return Outcome(error.status, error.to_json(), error.headers)
