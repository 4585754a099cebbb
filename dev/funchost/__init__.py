"""Local Azure Functions host for Python v2 apps (dev and tests only; see README.md)."""
from .errors import HostError
from .host import FunctionHost
from .invocation import InvocationResult

__all__ = ["FunctionHost", "HostError", "InvocationResult"]
