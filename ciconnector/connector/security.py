"""How a connection authenticates, in the definition and in apiProperties.json: a function key
(the default, one shared secret per connection) or Entra ID (``AUTH_MODE=entra``: Power Automate
signs the maker in and sends their access token for the backend's app registration).

The Entra form is the one Microsoft documents for connectors to Entra ID-protected APIs ("Create a
custom connector for Azure AD-protected Azure function apps"; the MicrosoftBookings certified
connector): an ``oauth2`` ``accessCode`` security definition with the ``login.windows.net``
placeholder URLs, and an ``oauthSetting`` connection parameter with the ``aad`` identity provider
whose ``resourceUri`` is the backend's application ID URI. The ``aad`` provider's custom parameters
are limited to ``resourceUri``, ``loginUri`` and ``tenantId`` by Microsoft's apiProperties schema.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import metadata

ENTRA_SCHEME = "oauth2_auth"
"""Name of the Entra ID security definition and of its connection parameter's counterpart."""
AAD_PLACEHOLDER_URL = "https://login.windows.net/common/oauth2/authorize"
"""What the platform expects in ``authorizationUrl``/``tokenUrl`` for ``aad`` (it uses its own endpoints)."""
DEFAULT_LOGIN_URI = "https://login.microsoftonline.com"


@dataclass(frozen=True)
class EntraConnection:
    """The Entra ID sign-in of a connection.

    Attributes:
        client_id: the connector's app registration, the client Power Automate signs makers in with
            (its secret is entered when the connector is created, never generated into files).
        resource_uri: the backend's application ID URI (``api://<backend client id>``), the
            audience of the tokens the backend accepts.
        tenant_id: the tenant makers sign in to (``common`` for any, subject to the backend's
            ``AUTH_ALLOWED_TENANTS``).
        login_uri: the authority host.
    """

    client_id: str
    resource_uri: str
    tenant_id: str = "common"
    login_uri: str = DEFAULT_LOGIN_URI


def security_definitions(entra: bool) -> tuple[dict[str, Any], list[dict[str, list[str]]]]:
    """``securityDefinitions`` and the global ``security`` requirement of the definition."""
    if entra:
        return ({ENTRA_SCHEME: {"type": "oauth2", "flow": "accessCode", "authorizationUrl": AAD_PLACEHOLDER_URL,
                                "tokenUrl": AAD_PLACEHOLDER_URL, "scopes": {}}},
                [{ENTRA_SCHEME: []}])
    return ({metadata.SECURITY_SCHEME: {"type": "apiKey", "in": "header", "name": metadata.KEY_HEADER,
                                        "description": "An Azure Functions function key of the connector backend."}},
            [{metadata.SECURITY_SCHEME: []}])


def connection_parameters(entra: EntraConnection | None) -> dict[str, Any]:
    """apiProperties.json ``connectionParameters``: the function key, or the Entra ID sign-in."""
    if entra is None:
        return {metadata.SECURITY_SCHEME: {"type": "securestring", "uiDefinition": {
            "displayName": "Function key",
            "description": "A function key of the function app that runs the connector backend.",
            "tooltip": "In the Azure portal: your function app, then Functions, App keys; copy the default key.",
            "constraints": {"tabIndex": 2, "clearText": False, "required": "true"},
        }}}
    return {"token": {"type": "oauthSetting", "oAuthSettings": {
        "identityProvider": "aad",
        "clientId": entra.client_id,
        "scopes": [],
        "redirectMode": "Global",
        "redirectUrl": "https://global.consent.azure-apim.net/redirect",
        "properties": {"IsFirstParty": "False"},
        "customParameters": {"loginUri": {"value": entra.login_uri}, "tenantId": {"value": entra.tenant_id},
                             "resourceUri": {"value": entra.resource_uri}},
    }}}
