"""Row actions on an entity: Get items (OData, paged), Get item, Create item, Update item."""
from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from ciconnector.errors import NotFound
from ciconnector.operations import Param
from ciconnector.operations.common import ENTITY, INSTANCE
from ciconnector.operations.params import TEXT_PATTERN

from . import odata
from .model import Action, Call
from .schemas import FREE_OBJECT, compact, obj, prop

MAX_TOP = 1000
"""Most rows one Get items call returns; it reads them from CI 100 at a time."""
MAX_SKIP = 10_000_000
NEXT_LINK = "@odata.nextLink"

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_ORDER = rf"{_IDENT}(\s+([Aa][Ss][Cc]|[Dd][Ee][Ss][Cc]))?"
SELECT_PATTERN = rf"^\s*(\*|{_IDENT}(\s*,\s*{_IDENT})*)\s*$"
ORDERBY_PATTERN = rf"^\s*{_ORDER}(\s*,\s*{_ORDER})*\s*$"
ITEM_ID_PATTERN = r"^[^\x00-\x1f\x7f/\\]+$"

FILTER_HELP = (
    "An OData filter, for example CustomerId eq 'abc'. Customer Insights filters only on some fields: "
    "UnifiedActivity on ActivityId and CustomerId; Customer on CustomerId and the fields indexed for "
    "search in the instance; other entities on CustomerId. Ingested source tables cannot be filtered.")

ITEM_ID = Param("itemId", "path", "string", "Item Key", "The key value of the item, for example a CustomerId.",
                required=True, max_length=odata.MAX_LITERAL_LENGTH, pattern=ITEM_ID_PATTERN)
KEY_NAME = Param("keyName", "query", "string", "Key Field",
                 "The field holding the key: CustomerId for most entities, ActivityId for UnifiedActivity.",
                 default="CustomerId", max_length=128, pattern=odata.IDENTIFIER)
PAGE_PARAMS = (
    Param("$top", "query", "integer", "Top Count", f"How many items to return, 1 to {MAX_TOP}.",
          default=100, minimum=1, maximum=MAX_TOP),
    Param("$skip", "query", "integer", "Skip Count", "How many items to skip first.",
          default=0, minimum=0, maximum=MAX_SKIP, visibility="advanced"),
)
"""Paging inputs of the actions reading rows (:func:`read_page`)."""
PAGE_RESPONSE = obj({
    "value": prop("array", "Items", "The items.", items=dict(FREE_OBJECT)),
    NEXT_LINK: prop("string", "Next Link", "URL of the next page; absent on the last page."),
}, required=("value",))


def next_link(url: str, skip: int) -> str:
    """``url`` with ``$skip`` set to ``skip`` and any ``code`` (function key) removed."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("$skip", "code")]
    query.append(("$skip", str(skip)))
    return parts._replace(query=urlencode(query, quote_via=quote, safe="$")).geturl()


def read_page(call: Call, entity_name: str) -> dict:
    """One page of ``entity_name``'s rows by the call's ``$top``/``$skip`` (and ``$filter``,
    ``$select``, ``$orderby`` when the action has them), with ``@odata.nextLink`` when more may follow."""
    args = call.args
    top, position = args["$top"], args["$skip"]
    rows = list(call.ci.list_data(call.instance_id, entity_name, filter=args.get("$filter"),
                                  select=args.get("$select"), orderby=args.get("$orderby"), skip=position,
                                  max_items=top))
    body: dict = {"value": rows}
    if len(rows) == top and position + top < MAX_SKIP:
        body[NEXT_LINK] = next_link(call.url, position + top)
    return body


def _items(call: Call) -> dict:
    return read_page(call, call.args["entityName"])


def _find(call: Call) -> dict:
    """The item whose ``keyName`` field equals ``itemId``; ``ItemNotFound`` (404) when there is none."""
    args = call.args
    where = odata.equals(args["keyName"], args["itemId"], name_field="keyName", value_field="itemId")
    page = call.ci.query_data(call.instance_id, args["entityName"], filter=where, top=1)
    if not page.rows:
        raise NotFound("ItemNotFound", f"No item of '{args['entityName']}' has {args['keyName']} "
                                       f"{odata.string_literal(args['itemId'], 'itemId')}.", field="itemId")
    return page.rows[0]


def _create(call: Call) -> dict:
    """The created item and its key: the key field's value in the item CI returns (or the one sent),
    else the last segment of CI's ``Location`` (never the URL itself: a flow cannot call CI's API)."""
    args = call.args
    result = call.ci.create_item(call.instance_id, args["entityName"], args["item"])
    result = result if isinstance(result, dict) else {}
    value, location = result.get("value"), result.get("location")
    item = value if isinstance(value, dict) and value else args["item"]
    key = item.get(args["keyName"])
    if key is None and isinstance(location, str) and location:
        key = unquote(urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]) or None
    return compact({
        "entityName": args["entityName"],
        "status": "accepted" if result.get("statusCode") == 202 else "created",
        "itemId": None if key is None else str(key), "item": item,
    })


def _update(call: Call) -> dict:
    """Checks the item exists first, so an unknown key is a clear 404 ``ItemNotFound``."""
    args = call.args
    _find(call)
    call.ci.update_item(call.instance_id, args["entityName"], args["itemId"], args["changes"])
    return {"entityName": args["entityName"], "itemId": args["itemId"], "status": "updated"}


def _body(name: str, summary: str, description: str) -> Param:
    return Param(name, "body", "object", summary, description, required=True,
                 schema={**FREE_OBJECT, "minProperties": 1, "description": description})


GET_ITEMS = Action(
    operation_id="GetItems", method="GET", route="instances/{instanceId}/data/{entityName}",
    summary="Get items from an entity",
    description=("Gets items (rows) from an entity with OData filter, select, order, top and skip. "
                 "Turn on pagination in the action settings to read past the first page."),
    params=(
        INSTANCE, ENTITY,
        Param("$filter", "query", "string", "Filter Query", FILTER_HELP, max_length=2048, pattern=TEXT_PATTERN),
        Param("$select", "query", "string", "Select Query",
              "Comma-separated fields to return, for example CustomerId,FullName; all when empty.",
              max_length=2048, pattern=SELECT_PATTERN, visibility="advanced"),
        Param("$orderby", "query", "string", "Order By",
              "Comma-separated fields to sort by, each optionally followed by asc or desc.",
              max_length=1024, pattern=ORDERBY_PATTERN, visibility="advanced"),
        *PAGE_PARAMS,
    ),
    response=PAGE_RESPONSE,
    handler=_items, pageable=True)

GET_ITEM = Action(
    operation_id="GetItem", method="GET", route="instances/{instanceId}/data/{entityName}/{itemId}",
    summary="Get item",
    description="Gets one item (row) of an entity by its key; the key value is matched exactly.",
    params=(INSTANCE, ENTITY, ITEM_ID, KEY_NAME),
    response={**FREE_OBJECT, "description": "The item; its fields depend on the entity."},
    handler=_find)

CREATE_ITEM = Action(
    operation_id="CreateItem", method="POST", route="instances/{instanceId}/data/{entityName}",
    summary="Create item (Preview)",
    description="Creates an item (row) on an entity. Customer Insights offers this as a preview feature.",
    params=(INSTANCE, ENTITY, KEY_NAME,
            _body("item", "Item", "The item to create, a JSON object shaped like the entity's rows.")),
    response=obj({
        "entityName": prop("string", "Entity Name", "The entity the item was created on."),
        "status": prop("string", "Status", "created, or accepted when Customer Insights creates it later.",
                       enum=["created", "accepted"]),
        "itemId": prop("string", "Item Key", "The key of the created item, to use with Get item or Update item."),
        "item": prop("object", "Item", "The created item as Customer Insights returned it (else as sent)."),
    }, required=("entityName", "status", "item")),
    handler=_create, status=201, response_description="Created", preview=True)

UPDATE_ITEM = Action(
    operation_id="UpdateItem", method="PATCH", route="instances/{instanceId}/data/{entityName}/{itemId}",
    summary="Update item (Preview)",
    description="Updates fields of an item (row) of an entity. Customer Insights offers this as a preview feature.",
    params=(INSTANCE, ENTITY, ITEM_ID, KEY_NAME,
            _body("changes", "Changes", "The fields to change, a JSON object of field names and new values.")),
    response=obj({
        "entityName": prop("string", "Entity Name", "The entity of the item."),
        "itemId": prop("string", "Item Key", "The key of the updated item."),
        "status": prop("string", "Status", "Always updated.", enum=["updated"]),
    }, required=("entityName", "itemId", "status")),
    handler=_update, preview=True)
