"""Connector actions over the CI client: declarations and execution.

No ``azure.functions`` import: ``actions/ci_actions.py`` adapts :func:`execute` to HTTP functions.
Parameters, validation and error answers are the shared ones of :mod:`ciconnector.operations`.
"""
from .model import Action, Call
from .registry import ACTIONS, TEST_CONNECTION_OPERATION, action
from .runner import execute

__all__ = ["ACTIONS", "TEST_CONNECTION_OPERATION", "Action", "Call", "action", "execute"]
