"""The connector definition (``apiDefinition.swagger.json``), generated from the action
declarations and the trigger catalog."""
from __future__ import annotations

import re
from typing import Any, Iterable
from urllib.parse import urlsplit

from ciconnector.data_actions import ACTIONS, TEST_CONNECTION_OPERATION, Action
from ciconnector.errors import InvalidInput
from ciconnector.trigger_kinds import CATALOG, UNSUBSCRIBE, TriggerKind

from . import metadata, security
from .emitter import paths

HOST_PATTERN = re.compile(r"^[A-Za-z0-9.\-]{1,253}(:\d{1,5})?$")
"""A host name (or IPv4 address) with an optional port: what Swagger's ``host`` may hold."""


def build_definition(host: str = metadata.DEFAULT_HOST, *, scheme: str = "https",
                     base_path: str = metadata.BASE_PATH, actions: Iterable[Action] = ACTIONS,
                     kinds: Iterable[TriggerKind] = CATALOG.values(), entra: bool = False) -> dict[str, Any]:
    """The Swagger 2.0 definition with ``host``, ``scheme`` and ``base_path`` filled in; ``entra``
    makes connections sign makers in with Entra ID instead of asking for a function key."""
    if not HOST_PATTERN.match(host):
        raise ValueError(f"invalid connector host {host!r}")
    if not base_path.startswith("/"):
        raise ValueError(f"invalid connector base path {base_path!r}")
    operations = (*(kind.subscribe for kind in kinds), UNSUBSCRIBE, *actions)
    security_definitions = security.security_definitions(entra)
    return {
        "swagger": "2.0",
        "info": {"title": metadata.TITLE, "description": metadata.DESCRIPTION, "version": metadata.VERSION,
                 "contact": dict(metadata.CONTACT)},
        "host": host,
        "basePath": base_path,
        "schemes": [scheme],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": paths(operations),
        "definitions": {},
        "parameters": {},
        "responses": {},
        "securityDefinitions": security_definitions[0],
        "security": security_definitions[1],
        "tags": [],
        "x-ms-connector-metadata": [
            {"propertyName": "Website", "propertyValue": metadata.WEBSITE},
            {"propertyName": "Privacy policy", "propertyValue": metadata.PRIVACY_POLICY},
            {"propertyName": "Categories", "propertyValue": ";".join(metadata.CATEGORIES)},
        ],
        "x-ms-capabilities": {"testConnection": {"operationId": TEST_CONNECTION_OPERATION, "parameters": {}}},
    }


def public_base_url(url: str, *, host: str | None = None, base_path: str = metadata.BASE_PATH) -> str:
    """The base URL makers' calls go to, as the served definition states it: ``https://`` +
    ``host`` + ``base_path`` when a host is set (``CONNECTOR_HOST``: a gateway or custom domain),
    else the request URL's scheme and host + ``base_path``."""
    parts = urlsplit(url)
    return f"https://{host}{base_path}" if host else f"{parts.scheme}://{parts.netloc}{base_path}"


def definition_for_url(url: str, *, host: str | None = None, base_path: str = metadata.BASE_PATH,
                       entra: bool = False) -> dict[str, Any]:
    """The definition as served at ``url``: ``host`` (default: that URL's host, and its scheme),
    ``base_path`` and the app's auth mode (``entra``); an ``InvalidHost`` :class:`InvalidInput` for
    an odd host or path."""
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"unsupported scheme {parts.scheme!r}")
        if host:
            return build_definition(host, scheme="https", base_path=base_path, entra=entra)
        return build_definition(parts.netloc, scheme=parts.scheme, base_path=base_path, entra=entra)
    except ValueError:
        raise InvalidInput("InvalidHost", "The request's host name is not usable.") from None
