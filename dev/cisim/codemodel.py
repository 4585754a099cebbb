"""The CI v1 AutoRest code model as JSON Schema, for conformance tests.

Every ``CompositeType`` becomes a closed object schema under ``$defs`` (unknown properties are
rejected unless the type declares additional properties), enums list their exact wire values,
and only ``x-nullable`` properties accept null. Operations map status codes to response schemas.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "reference" / "ci-api-code-model-v1.json"
PATH_ENV = "CI_CODE_MODEL_PATH"
STATUS_CODES = {"OK": 200, "Created": 201, "Accepted": 202, "NoContent": 204, "BadRequest": 400,
                "Unauthorized": 401, "Forbidden": 403, "NotFound": 404, "NotAcceptable": 406, "Conflict": 409,
                "429": 429, "InternalServerError": 500, "ServiceUnavailable": 503}
_PRIMARY: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "int": {"type": "integer", "minimum": -2**31, "maximum": 2**31 - 1},
    "long": {"type": "integer"},
    "double": {"type": "number"},
    "dateTime": {"type": "string", "format": "date-time"},
    "uuid": {"type": "string", "format": "uuid"},
    "object": {},
}


@dataclass(frozen=True)
class Operation:
    """One API operation: ``responses`` maps an HTTP status to its body schema (None = no body)."""

    operation_id: str
    method: str
    url: str
    responses: dict[int, dict[str, Any] | None]


class CodeModel:
    """The code model loaded from ``path`` (default: the vendored copy in dev/reference, or ``$CI_CODE_MODEL_PATH``)."""

    def __init__(self, path: str | Path | None = None) -> None:
        raw = json.loads(Path(path or os.environ.get(PATH_ENV) or DEFAULT_PATH).read_text("utf-8"))
        self._ids: dict[str, dict[str, Any]] = {}
        self._index(raw)
        self.defs: dict[str, dict[str, Any]] = {}
        for model_type in raw["modelTypes"]:
            self._schema(model_type)
        self.operations = {m["serializedName"]: self._operation(m) for m in raw["operations"][0]["methods"]}

    def _index(self, node: Any) -> None:
        if isinstance(node, dict):
            if "$id" in node:
                self._ids[node["$id"]] = node
            for value in node.values():
                self._index(value)
        elif isinstance(node, list):
            for value in node:
                self._index(value)

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = self._ids[node["$ref"]]
        return node

    def _schema(self, node: dict[str, Any]) -> dict[str, Any]:
        node = self._resolve(node)
        kind = node["$type"]
        if kind == "PrimaryType":
            return dict(_PRIMARY[node["knownPrimaryType"]])
        if kind == "EnumType":
            return {"type": "string", "enum": [v["serializedName"] for v in node["values"]]}
        if kind == "SequenceType":
            return {"type": "array", "items": self._schema(node["elementType"])}
        if kind == "DictionaryType":
            return {"type": "object", "additionalProperties": self._schema(node["valueType"])}
        if kind != "CompositeType":
            raise ValueError(f"Unsupported model type {kind}")
        name = node["serializedName"]
        if name not in self.defs:
            schema: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
            self.defs[name] = schema
            for prop in node.get("properties", []):
                prop_type = self._resolve(prop["modelType"])
                if "serializedName" not in prop:  # AutoRest's catch-all for additional properties
                    schema["additionalProperties"] = self._schema(prop_type["valueType"])
                    continue
                prop_schema = self._schema(prop_type)
                if (prop.get("extensions") or {}).get("x-nullable"):
                    prop_schema = {"anyOf": [prop_schema, {"type": "null"}]}
                schema["properties"][prop["serializedName"]] = prop_schema
        return {"$ref": f"#/$defs/{name}"}

    def _operation(self, method: dict[str, Any]) -> Operation:
        responses: dict[int, dict[str, Any] | None] = {}
        for status_name, response in method["responses"].items():
            body = self._resolve(response).get("body")
            responses[STATUS_CODES[status_name]] = self._schema(body) if body else None
        return Operation(method["serializedName"], method["httpMethod"].upper(), method["url"], responses)

    def schema(self, type_schema: dict[str, Any]) -> dict[str, Any]:
        """A standalone JSON Schema for ``type_schema`` (carries every ``$defs`` entry)."""
        return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": self.defs, **type_schema}

    def type_schema(self, name: str) -> dict[str, Any]:
        """The standalone schema of the composite type ``name`` (e.g. ``GraphJobInfo``)."""
        if name not in self.defs:
            raise KeyError(name)
        return self.schema({"$ref": f"#/$defs/{name}"})

    def response_schema(self, operation_id: str, status: int = 200) -> dict[str, Any] | None:
        """The schema of ``operation_id``'s response body for ``status`` (None: declared without body).

        Raises KeyError if the operation does not declare ``status``.
        """
        body = self.operations[operation_id].responses[status]
        return None if body is None else self.schema(body)

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        """A validator that also checks ``uuid`` and ``date-time`` formats."""
        return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@lru_cache(maxsize=1)
def load() -> CodeModel:
    """The default code model, loaded once."""
    return CodeModel()
