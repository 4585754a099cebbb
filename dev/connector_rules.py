"""Certification and validator rules for the connector definition (dev and tests only;
see ../shared/reference/power-automate-connector.md §12).

Each rule is a small function ``definition -> list of violations`` (messages naming where); the
validator's own rule ids are quoted where one exists. :func:`check` runs them all;
:func:`check_properties` runs the apiProperties rules.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterator

Definition = dict[str, Any]
Rule = Callable[[Definition], list[str]]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
PRODUCT_NAMES = ("Power Automate", "Power Apps", "PowerApps", "Power BI", "Power Platform", "Power Pages",
                 "Power Virtual Agents", "Copilot Studio", "Logic Apps", "Microsoft Flow", "Dataverse")
CATEGORIES = ("AI", "Business Management", "Business Intelligence", "Collaboration", "Commerce", "Communication",
              "Content and Files", "Finance", "Data", "Human Resources", "Internet of Things", "IT Operations",
              "Lifestyle and Entertainment", "Marketing", "Productivity", "Sales and CRM", "Security",
              "Social Media", "Website")
PICKER_NAMES = frozenset({"instanceId", "dataSourceId", "dataSourceName", "segmentName", "measureName", "entityName"})
"""Inputs naming a CI resource: each must offer a dropdown."""
SMALL_WORDS = frozenset({"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to",
                         "with"})
MAX_SUMMARY = 80
MAX_OPERATION_ID = 128
MAX_OPERATIONS = 256
MAX_FILE_BYTES = 1024 * 1024
KEY_HEADER = "x-functions-key"


# Walking helpers
def operations(d: Definition) -> Iterator[tuple[str, str, dict, dict]]:
    """``(path, method, operation, path item)`` of every operation."""
    for path, item in (d.get("paths") or {}).items():
        for method in METHODS:
            if isinstance(item.get(method), dict):
                yield path, method, item[method], item


def _where(path: str, method: str, op: dict) -> str:
    return f"{method.upper()} {path} ({op.get('operationId', '?')})"


def _params(op: dict) -> list[dict]:
    return [p for p in op.get("parameters") or [] if isinstance(p, dict)]


def _body_schema(op: dict) -> dict:
    body = next((p for p in _params(op) if p.get("in") == "body"), None)
    return (body or {}).get("schema") or {}


def inputs(op: dict) -> Iterator[tuple[str, dict, bool]]:
    """``(name, schema-or-parameter, required)`` of each input: non-body parameters, then the body
    schema's properties (nested ones as ``a.b``)."""
    for p in _params(op):
        if p.get("in") != "body":
            yield p["name"], p, bool(p.get("required"))

    def walk(schema: dict, prefix: str, parent_required: bool) -> Iterator[tuple[str, dict, bool]]:
        required = set(schema.get("required") or [])
        for name, prop in (schema.get("properties") or {}).items():
            is_required = parent_required and name in required
            yield prefix + name, prop, is_required
            if prop.get("type") == "object":
                yield from walk(prop, f"{prefix}{name}.", is_required)

    body = next((p for p in _params(op) if p.get("in") == "body"), None)
    if body:
        yield from walk(body.get("schema") or {}, "", bool(body.get("required")))


def _all_values(node: Any, key: str) -> Iterator[Any]:
    """Every value stored under ``key`` anywhere in ``node``."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from _all_values(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from _all_values(v, key)


def _sentence(text: str) -> str:
    return text.strip().rstrip(".!?").strip().casefold()


# Document-level rules
def swagger_version(d: Definition) -> list[str]:
    """``SpecificationVersionIncorrect``: the document is Swagger 2.0."""
    return [] if d.get("swagger") == "2.0" else ["swagger must be '2.0'"]


def _product_names(text: str) -> list[str]:
    return [name for name in PRODUCT_NAMES if name.casefold() in text.casefold()]


def title(d: Definition) -> list[str]:
    """Title: at most 30 characters, no API / Connector / product names, ends alphanumeric."""
    text = (d.get("info") or {}).get("title") or ""
    problems = []
    if not text or len(text) > 30:
        problems.append(f"title must have 1 to 30 characters: {text!r}")
    if re.search(r"\b(api|connector)\b", text, re.IGNORECASE) or _product_names(text):
        problems.append(f"title must not contain 'API', 'Connector' or product names: {text!r}")
    if text and not text[-1].isalnum():
        problems.append(f"title must end with a letter or digit: {text!r}")
    return problems


def connector_description(d: Definition) -> list[str]:
    """Connector description: 30 to 500 characters, no product names."""
    text = (d.get("info") or {}).get("description") or ""
    problems = [] if 30 <= len(text) <= 500 else [f"info.description must have 30 to 500 characters ({len(text)})"]
    return problems + [f"info.description names product '{n}'" for n in _product_names(text)]


def contact_and_metadata(d: Definition) -> list[str]:
    """info.contact {name, url, email}; x-ms-connector-metadata Website, Privacy policy, Categories."""
    contact = (d.get("info") or {}).get("contact") or {}
    problems = [f"info.contact.{k} is missing" for k in ("name", "url", "email") if not contact.get(k)]
    meta = {m.get("propertyName"): m.get("propertyValue") for m in d.get("x-ms-connector-metadata") or []}
    problems += [f"x-ms-connector-metadata lacks '{k}'" for k in ("Website", "Privacy policy", "Categories")
                 if not meta.get(k)]
    categories = [c.strip() for c in (meta.get("Categories") or "").split(";") if c.strip()]
    if len(categories) > 2:
        problems.append("at most 2 categories are allowed")
    problems += [f"unknown category '{c}'" for c in categories if c not in CATEGORIES]
    return problems


def host_and_base_path(d: Definition) -> list[str]:
    """``host`` without scheme or path; ``basePath`` starts with '/'."""
    problems = []
    if not re.fullmatch(r"[A-Za-z0-9.\-]+(:\d+)?", d.get("host") or ""):
        problems.append(f"host must be a bare host name: {d.get('host')!r}")
    if not str(d.get("basePath", "")).startswith("/"):
        problems.append("basePath must start with '/'")
    return problems


def security(d: Definition) -> list[str]:
    """Function-key auth (an apiKey security definition for header x-functions-key) or Entra ID auth
    (an oauth2 accessCode definition, what the ``aad`` identity provider pairs with), required globally."""
    schemes = d.get("securityDefinitions") or {}
    keys = [name for name, s in schemes.items()
            if s.get("type") == "apiKey" and s.get("in") == "header" and s.get("name") == KEY_HEADER]
    keys += [name for name, s in schemes.items() if s.get("type") == "oauth2" and s.get("flow") == "accessCode"
             and str(s.get("authorizationUrl", "")).startswith("https://login.windows.net/")]
    if len(keys) != 1 or len(schemes) != 1:
        return [f"securityDefinitions must define one apiKey header '{KEY_HEADER}' or one Entra ID oauth2 scheme"]
    if not any(keys[0] in requirement for requirement in d.get("security") or []):
        return [f"security must require '{keys[0]}'"]
    return []


def connection_test(d: Definition) -> list[str]:
    """x-ms-capabilities.testConnection names a GET callable without inputs."""
    target = ((d.get("x-ms-capabilities") or {}).get("testConnection") or {}).get("operationId")
    if not target:
        return ["x-ms-capabilities.testConnection is missing"]
    found = [(m, op) for _, m, op, _ in operations(d) if op.get("operationId") == target]
    if not found or found[0][0] != "get":
        return [f"testConnection operation '{target}' must be an existing GET"]
    needed = [p["name"] for p in _params(found[0][1]) if p.get("required") and "default" not in p]
    return [f"testConnection operation '{target}' needs inputs {needed}"] if needed else []


def limits(d: Definition) -> list[str]:
    """At most 256 operations; the file under 1 MB."""
    problems = []
    count = sum(1 for _ in operations(d))
    if count > MAX_OPERATIONS:
        problems.append(f"{count} operations, more than {MAX_OPERATIONS}")
    size = len(json.dumps(d, indent=2).encode())
    if size >= MAX_FILE_BYTES:
        problems.append(f"definition is {size} bytes, 1 MB or more")
    return problems


# Operation rules
def operation_ids(d: Definition) -> list[str]:
    """``OperationIdNotUnique`` / ``OperationIdSanitized`` / ``OperationIdTooLong``: unique PascalCase ids."""
    problems, seen = [], set()
    for path, method, op, _ in operations(d):
        op_id = op.get("operationId") or ""
        if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", op_id) or len(op_id) > MAX_OPERATION_ID:
            problems.append(f"{_where(path, method, op)}: operationId must be PascalCase alphanumerics")
        if op_id in seen:
            problems.append(f"{_where(path, method, op)}: operationId is not unique")
        seen.add(op_id)
    return problems


def summaries(d: Definition) -> list[str]:
    """``OperationSummaryTooLong`` / ``RestrictedCharactersInSummary``: at most 80 characters, letters,
    digits, spaces and parentheses, sentence case."""
    problems = []
    for path, method, op, _ in operations(d):
        text = op.get("summary") or ""
        if not text or len(text) > MAX_SUMMARY:
            problems.append(f"{_where(path, method, op)}: summary must have 1 to {MAX_SUMMARY} characters")
        elif not re.fullmatch(r"[A-Za-z0-9 ()]+", text) or not text[0].isupper():
            problems.append(f"{_where(path, method, op)}: summary {text!r} must be sentence case with only "
                            "letters, digits, spaces and parentheses")
    return problems


def descriptions(d: Definition) -> list[str]:
    """Operations and inputs have a description: full sentence(s), different from the summary."""
    problems = []
    for path, method, op, _ in operations(d):
        where = _where(path, method, op)
        described = [("operation", op.get("summary"), op.get("description"))]
        described += [(f"input '{n}'", i.get("x-ms-summary"), i.get("description")) for n, i, _ in inputs(op)]
        for what, summary, text in described:
            if not text or text.strip()[-1] not in ".!?":
                problems.append(f"{where}: {what} needs a description ending in punctuation")
            elif summary and _sentence(text) == _sentence(summary):
                problems.append(f"{where}: {what} description repeats its summary")
    return problems


def visibility(d: Definition) -> list[str]:
    """Every operation states its x-ms-visibility."""
    return [f"{_where(p, m, op)}: x-ms-visibility missing" for p, m, op, _ in operations(d)
            if op.get("x-ms-visibility") not in ("important", "advanced", "internal")]


def input_summaries(d: Definition) -> list[str]:
    """Every parameter (and body property) has an x-ms-summary."""
    problems = []
    for path, method, op, _ in operations(d):
        problems += [f"{_where(path, method, op)}: parameter '{p.get('name')}' lacks x-ms-summary"
                     for p in _params(op) if not p.get("x-ms-summary")]
        problems += [f"{_where(path, method, op)}: body property '{n}' lacks x-ms-summary"
                     for n, i, _ in inputs(op) if "." not in n and i.get("in") is None and not i.get("x-ms-summary")]
    return problems


def title_case_labels(d: Definition) -> list[str]:
    """x-ms-summary labels are Title Case."""
    problems = []
    for label in _all_values(d, "x-ms-summary"):
        words = str(label).split()
        bad = [w for i, w in enumerate(words) if (i == 0 or w.casefold() not in SMALL_WORDS) and not w[0].isupper()
               and not w[0].isdigit()]
        if not words or bad:
            problems.append(f"x-ms-summary {label!r} is not Title Case")
    return problems


def path_parameters(d: Definition) -> list[str]:
    """``PathParameterMustBeRequired`` / ``PathParameterMissingEncoding``; placeholders match parameters."""
    problems = []
    for path, method, op, _ in operations(d):
        where = _where(path, method, op)
        declared = {p["name"]: p for p in _params(op) if p.get("in") == "path"}
        placeholders = set(re.findall(r"\{([^{}]+)\}", path))
        problems += [f"{where}: path placeholder '{n}' has no parameter" for n in placeholders - set(declared)]
        problems += [f"{where}: path parameter '{n}' is not in the path" for n in set(declared) - placeholders]
        for name, p in declared.items():
            if p.get("required") is not True:
                problems.append(f"{where}: path parameter '{name}' must be required")
            if p.get("x-ms-url-encoding") not in ("single", "double"):
                problems.append(f"{where}: path parameter '{name}' lacks x-ms-url-encoding")
    return problems


def internal_inputs(d: Definition) -> list[str]:
    """Internal and required ⇒ default (``PropertyMustBeRequired``); internal with a default ⇒ required
    (``InternalPropertyWithDefaultOptional``). The notification URL is filled by the platform."""
    problems = []
    for path, method, op, _ in operations(d):
        for name, item, required in inputs(op):
            if item.get("x-ms-visibility") != "internal" or item.get("x-ms-notification-url"):
                continue
            if required and "default" not in item:
                problems.append(f"{_where(path, method, op)}: internal required input '{name}' needs a default")
            if "default" in item and not required:
                problems.append(f"{_where(path, method, op)}: internal input '{name}' with a default must be required")
    return problems


def parameter_shape(d: Definition) -> list[str]:
    """No parameter named connectionId; at most one body parameter; no body on GET."""
    problems = []
    for path, method, op, _ in operations(d):
        where = _where(path, method, op)
        params = _params(op)
        problems += [f"{where}: parameter name 'connectionId' is reserved" for p in params
                     if p.get("name") == "connectionId"]
        bodies = [p for p in params if p.get("in") == "body"]
        if len(bodies) > 1:
            problems.append(f"{where}: more than one body parameter")
        if bodies and method == "get":
            problems.append(f"{where}: a GET must not have a body")
    return problems


def responses(d: Definition) -> list[str]:
    """``OperationShouldHaveSuccessfulResponse``, ``OperationHasManyResponsesWithSchema``,
    ``DefaultResponseHasSchema``."""
    problems = []
    for path, method, op, _ in operations(d):
        where = _where(path, method, op)
        answers = op.get("responses") or {}
        if not any(code.startswith("2") for code in answers):
            problems.append(f"{where}: no success response")
        if sum(1 for r in answers.values() if isinstance(r, dict) and "schema" in r) > 1:
            problems.append(f"{where}: more than one response has a schema")
        if "schema" in (answers.get("default") or {}):
            problems.append(f"{where}: the default response must not have a schema")
    return problems


def webhooks(d: Definition) -> list[str]:
    """Webhook triggers: notification content at path level, one notification URL (string, required at
    every level, internal), a hint, a "When" summary, no response schema; and an internal DELETE."""
    problems = []
    triggers = [(p, m, op, item) for p, m, op, item in operations(d) if op.get("x-ms-trigger")]
    for path, method, op, item in triggers:
        where = _where(path, method, op)
        if not (item.get("x-ms-notification-content") or {}).get("schema"):
            problems.append(f"{where}: OperationMustHaveNotificationContentExtension")
        if not op.get("x-ms-trigger-hint"):
            problems.append(f"{where}: x-ms-trigger-hint is missing")
        if not str(op.get("summary", "")).startswith("When "):
            problems.append(f"{where}: a trigger summary starts with 'When'")
        if any("schema" in r for r in (op.get("responses") or {}).values() if isinstance(r, dict)):
            problems.append(f"{where}: SchemaDefinitionSetIncorrectly (output schema belongs in "
                            "x-ms-notification-content)")
        urls = [(n, i, r) for n, i, r in inputs(op) if i.get("x-ms-notification-url") is True]
        if len(urls) != 1 or "in" in urls[0][1]:
            problems.append(f"{where}: WebhookOperationsMissingNotificationUrlProperty (one body property needed)")
            continue
        name, prop, required = urls[0]
        if prop.get("type") != "string":
            problems.append(f"{where}: NotificationUrlNotString")
        if not required:
            problems.append(f"{where}: NotificationUrlNotRequired ('{name}' must be required at every level)")
        if prop.get("x-ms-visibility") != "internal":
            problems.append(f"{where}: NotificationUrlNotInternal")
    if triggers and not any(m == "delete" and op.get("x-ms-visibility") == "internal"
                            for _, m, op, _ in operations(d)):
        problems.append("webhook triggers need an internal DELETE operation")
    return problems


def notification_url_position(d: Definition) -> list[str]:
    """``NotificationUrlNotAllowedInThisPosition``: only in a trigger's input body."""
    problems = []
    for path, method, op, item in operations(d):
        where = _where(path, method, op)
        allowed = sum(1 for _, i, _ in inputs(op) if i.get("x-ms-notification-url") and "in" not in i) \
            if op.get("x-ms-trigger") else 0
        total = sum(1 for v in _all_values(op, "x-ms-notification-url") if v)
        if total > allowed:
            problems.append(f"{where}: x-ms-notification-url outside a trigger's input body")
        if item.get("x-ms-notification-content") and not any(
                isinstance(item.get(m), dict) and item[m].get("x-ms-trigger") for m in METHODS):
            problems.append(f"{path}: x-ms-notification-content on a path without a trigger")
    return problems


def _references(dynamic: dict, kind: str) -> dict[str, Any]:
    """Target parameter → caller parameter name (or None for a literal)."""
    refs = {}
    for target, value in (dynamic.get("parameters") or {}).items():
        key = "parameter" if kind == "x-ms-dynamic-values" else "parameterReference"
        refs[target] = value.get(key) if isinstance(value, dict) and key in value else None
    return refs


def dynamic_references(d: Definition) -> list[str]:
    """Dropdown extensions name an existing operation, its parameters, and the caller's parameters."""
    by_id = {op.get("operationId"): op for _, _, op, _ in operations(d)}
    problems = []
    for path, method, op, _ in operations(d):
        where = _where(path, method, op)
        caller = {n.split(".")[-1] for n, _, _ in inputs(op)}
        for name, item, _ in inputs(op):
            for kind in ("x-ms-dynamic-values", "x-ms-dynamic-list"):
                dynamic = item.get(kind)
                if not dynamic:
                    continue
                target = by_id.get(dynamic.get("operationId"))
                if target is None:
                    problems.append(f"{where}: {kind} of '{name}' names unknown operation "
                                    f"'{dynamic.get('operationId')}'")
                    continue
                target_params = {n for n, _, _ in inputs(target)}
                for target_name, source in _references(dynamic, kind).items():
                    if target_name not in target_params:
                        problems.append(f"{where}: {kind} of '{name}' passes unknown parameter '{target_name}'")
                    if source is not None and source not in caller:
                        problems.append(f"{where}: {kind} of '{name}' references missing input '{source}'")
    return problems


def pickers(d: Definition) -> list[str]:
    """Inputs naming a CI resource (instance, data source, segment, measure, entity) offer a dropdown."""
    return [f"{_where(path, method, op)}: input '{name}' needs x-ms-dynamic-values or x-ms-dynamic-list"
            for path, method, op, _ in operations(d)
            for name, item, _ in inputs(op)
            if name in PICKER_NAMES and not (item.get("x-ms-dynamic-values") or item.get("x-ms-dynamic-list"))]


RULES: dict[str, Rule] = {rule.__name__: rule for rule in (
    swagger_version, title, connector_description, contact_and_metadata, host_and_base_path, security,
    connection_test, limits, operation_ids, summaries, descriptions, visibility, input_summaries,
    title_case_labels, path_parameters, internal_inputs, parameter_shape, responses, webhooks,
    notification_url_position, dynamic_references, pickers)}
"""Every definition rule by name."""


def check(d: Definition) -> list[str]:
    """All violations of ``d``, each prefixed with its rule name."""
    return [f"{name}: {problem}" for name, rule in RULES.items() for problem in rule(d)]


# apiProperties rules
def publisher(props: dict) -> list[str]:
    """publisher and stackOwner are set."""
    p = props.get("properties") or {}
    return [f"properties.{k} is missing" for k in ("publisher", "stackOwner") if not p.get(k)]


def key_connection_parameter(props: dict) -> list[str]:
    """The function key is asked for as a required securestring connection parameter, or the
    connection signs in with Entra ID (``oauthSetting``, ``aad``, the backend's ``resourceUri``)."""
    params = (props.get("properties") or {}).get("connectionParameters") or {}
    oauth = [p.get("oAuthSettings") or {} for p in params.values() if p.get("type") == "oauthSetting"]
    if oauth:
        aad = oauth[0]
        resource = ((aad.get("customParameters") or {}).get("resourceUri") or {}).get("value", "")
        ok = aad.get("identityProvider") == "aad" and aad.get("clientId") and resource and len(params) == 1
        return [] if ok else ["the Entra ID connection parameter needs identityProvider aad, a clientId and a "
                              "resourceUri, and no other connection parameter"]
    keys = [p for p in params.values() if p.get("type") == "securestring"]
    if not keys:
        return ["no securestring connection parameter for the function key"]
    constraints = (keys[0].get("uiDefinition") or {}).get("constraints") or {}
    return [] if constraints.get("required") == "true" else ["the key connection parameter must be required"]


def brand_color(props: dict) -> list[str]:
    """iconBrandColor is a #rrggbb colour."""
    color = (props.get("properties") or {}).get("iconBrandColor") or ""
    return [] if re.fullmatch(r"#[0-9A-Fa-f]{6}", color) else [f"iconBrandColor {color!r} is not #rrggbb"]


PROPERTY_RULES: dict[str, Callable[[dict], list[str]]] = {
    rule.__name__: rule for rule in (publisher, key_connection_parameter, brand_color)}


def check_properties(props: dict) -> list[str]:
    """All violations of an apiProperties.json document."""
    return [f"{name}: {problem}" for name, rule in PROPERTY_RULES.items() for problem in rule(props)]
