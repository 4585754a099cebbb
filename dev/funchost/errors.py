"""Errors of the local host."""


class HostError(RuntimeError):
    """The host cannot start: bad configuration, settings or function definitions."""
