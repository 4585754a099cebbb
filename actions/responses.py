"""JSON responses for the HTTP adapters."""
from __future__ import annotations

import json
from typing import Any, Mapping

import azure.functions as func


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> func.HttpResponse:
    """A JSON ``HttpResponse`` with ``Cache-Control: no-store``."""
    return func.HttpResponse(json.dumps(body, separators=(",", ":")), status_code=status,
                             mimetype="application/json", charset="utf-8",
                             headers={"Cache-Control": "no-store", **(headers or {})})
