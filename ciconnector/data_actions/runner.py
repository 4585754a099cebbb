"""Runs one action for one HTTP request: validate, check the instance allowlist, call the handler.

Failures are raised (a :class:`~ciconnector.errors.ConnectorError` or a CI client error); the
HTTP adapter turns them into the answer with :func:`ciconnector.operations.answers.error_answer`.
"""
from __future__ import annotations

from ciconnector.customer_insights import CustomerInsightsClient
from ciconnector.errors import NotFound
from ciconnector.operations import RawRequest, validate
from ciconnector.operations.answers import Answer
from ciconnector.operations.common import instance_allowed
from ciconnector.settings import Settings

from .model import Action, Call


def execute(action: Action, request: RawRequest, *, ci: CustomerInsightsClient, settings: Settings) -> Answer:
    """The success answer of ``action`` to ``request``; an instance outside the allowlist is a 404."""
    args = validate(action, request)
    for param in action.params:
        if param.resource == "instance" and not instance_allowed(args[param.name], settings.instance_ids):
            raise NotFound("InstanceNotFound", "No such Customer Insights instance is available.", field=param.name)
    return Answer(action.status, action.handler(Call(args, ci, settings, request.url)))
