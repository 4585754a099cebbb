"""Connector actions over the CI client: declarations, input validation and execution.

No ``azure.functions`` import: ``actions/ci_actions.py`` adapts :func:`execute` to HTTP functions.
"""
from .errors import ActionError
from .inputs import RawRequest
from .model import Action, Param, Picker
from .registry import ACTIONS, TEST_CONNECTION_OPERATION, action
from .runner import Call, Outcome, execute

__all__ = ["ACTIONS", "TEST_CONNECTION_OPERATION", "Action", "ActionError", "Call", "Outcome", "Param", "Picker",
           "RawRequest", "action", "execute"]
