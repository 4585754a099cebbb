"""The generated connector files as text (``apiDefinition.swagger.json``, ``apiProperties.json``)."""
from __future__ import annotations

import json
from typing import Any

from . import metadata
from .properties import build_api_properties
from .security import EntraConnection
from .swagger import build_definition

DEFINITION_FILE = "apiDefinition.swagger.json"
PROPERTIES_FILE = "apiProperties.json"


def render(document: Any) -> str:
    """Stable JSON text: two-space indent, key order as built, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generate(host: str = metadata.DEFAULT_HOST, entra: EntraConnection | None = None) -> dict[str, str]:
    """File name → text of every generated connector file (for Entra ID connections with ``entra``)."""
    return {DEFINITION_FILE: render(build_definition(host, entra=entra is not None)),
            PROPERTIES_FILE: render(build_api_properties(entra=entra))}
