"""Fixed facts of the connector: title, publisher, contact, security, host defaults.

Placeholders an organisation replaces before certification: :data:`PUBLISHER`, :data:`CONTACT`,
:data:`WEBSITE` and :data:`PRIVACY_POLICY`.
"""
from __future__ import annotations

TITLE = "Customer Insights Automation"
DESCRIPTION = ("Start flows when Customer Insights data sources refresh, segments or measures cross a "
               "threshold, or unification completes, and read or update Customer Insights data, "
               "segments, measures and refresh jobs from your flows.")
VERSION = "1.0"
PUBLISHER = "Customer Insights Automation Team"
CONTACT = {"name": PUBLISHER, "url": "https://example.com/ci-connector/support", "email": "support@example.com"}
WEBSITE = "https://example.com/ci-connector"
PRIVACY_POLICY = "https://example.com/ci-connector/privacy"
CATEGORIES = ("Data", "Marketing")
ICON_BRAND_COLOR = "#0b556a"

DEFAULT_HOST = "your-function-app.azurewebsites.net"
"""Host written into the committed definition; ``python -m dev.connector --host`` or the served
definition (``GET /api/connector/apiDefinition.swagger.json``) put the real one in."""
BASE_PATH = "/api"
SECURITY_SCHEME = "api_key"
"""Name of the security definition and of the apiProperties connection parameter."""
KEY_HEADER = "x-functions-key"
"""Header carrying the Azure Functions function key."""
