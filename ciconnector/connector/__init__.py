"""The Power Automate connector definition, generated from the action declarations
(:mod:`ciconnector.data_actions`) and the trigger catalog (:mod:`ciconnector.trigger_kinds`).

``dev/connector.py`` (``python -m dev.connector``) writes the files into ``connector/``;
``actions/connector_definition.py`` serves the definition with the caller's host.
"""
from .files import DEFINITION_FILE, PROPERTIES_FILE, generate, render
from .properties import build_api_properties
from .swagger import build_definition, definition_for_url

__all__ = ["DEFINITION_FILE", "PROPERTIES_FILE", "build_api_properties", "build_definition", "definition_for_url",
           "generate", "render"]
