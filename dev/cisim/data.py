"""The OData data endpoints: query (``GET data/{relativePath}``), create and update rows."""
from __future__ import annotations

import uuid
from typing import Any, Callable
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Response

from . import odata
from .errors import CIError
from .state import Instance, Table
from .web import Context, Route, json_response

PAGE_SIZE = 100
_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "dateTime": (str,), "decimal": (int, float),
                                       "int64": (int,), "boolean": (bool,)}


def _table(inst: Instance, name: str) -> Table:
    table = inst.table(name)
    if table is None:
        raise CIError(404, "EntityNotFound", f"Resource not found for the segment '{name}'.")
    return table


def _segment_members(inst: Instance) -> Callable[[str], "set[str] | None"]:
    def lookup(name: str) -> set[str] | None:
        if name not in inst.segments:
            return None
        table = inst.tables.get(name)
        return {str(r["CustomerId"]) for r in table.rows} if table else set()
    return lookup


def _expander(inst: Instance, table: Table, text: str, select: list[str] | None,
              search: str | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Attach related rows (joined on CustomerId) for ``$expand=A,B``."""
    if search:
        raise odata.bad_request("InvalidExpand", "$expand is not supported together with $search.")
    if select is not None:
        raise odata.bad_request("InvalidExpand", "$expand is not supported with a partial $select.")
    related = []
    for name in (n.strip() for n in text.split(",")):
        other = inst.table(name)
        if other is None or other.is_source or table.attribute("CustomerId") is None \
                or other.attribute("CustomerId") is None:
            raise odata.bad_request("InvalidExpand", f"Could not find a navigation property named '{name}'.")
        by_customer: dict[str, list[dict[str, Any]]] = {}
        for row in other.rows:
            by_customer.setdefault(str(row.get("CustomerId")), []).append(row)
        related.append((name, by_customer))

    def expand(row: dict[str, Any]) -> dict[str, Any]:
        for name, by_customer in related:
            row[name] = [dict(r) for r in by_customer.get(str(row.get("CustomerId")), [])]
        return row
    return expand


def query(ctx: Context, iid: str, relative_path: str) -> Response:
    """OData query with $filter/$search/$orderby/$select/$expand/$skip/$top; at most 100 rows a page."""
    inst = ctx.instance(iid)
    table = _table(inst, relative_path)
    args = ctx.request.args
    rows = table.rows
    search, filter_text = args.get("$search"), args.get("$filter")
    if search:
        rows = odata.search_rows(rows, search, table)
    if filter_text:
        if table.is_source:
            raise odata.bad_request("FilterNotSupported", f"$filter is not supported on the ingested source "
                                                          f"table '{table.name}'; query a system table instead.")
        predicate = odata.parse_filter(filter_text, table, _segment_members(inst))
        rows = [r for r in rows if predicate(r)]
    if args.get("$orderby"):
        rows = odata.sort_rows(rows, odata.parse_orderby(args["$orderby"], table))
    select = odata.parse_select(args["$select"], table) if args.get("$select") else None
    expand = _expander(inst, table, args["$expand"], select, search) if args.get("$expand") else None
    skip = odata.parse_count("$skip", args.get("$skip")) or 0
    top = odata.parse_count("$top", args.get("$top"))
    window_end = len(rows) if top is None else min(len(rows), skip + top)
    page = rows[skip: max(skip, min(window_end, skip + PAGE_SIZE))]
    values = []
    for row in page:
        item = {f: row.get(f) for f in select} if select is not None else dict(row)
        values.append(expand(item) if expand else item)
    context = f"{ctx.request.host_url}v1/instances/{inst.id}/data/$metadata#{table.name}"
    body: dict[str, Any] = {"@odata.context": context + (f"({','.join(select)})" if select else ""),
                            "@odata.count": len(rows), "value": values}
    next_skip = skip + len(page)
    if ctx.store.next_link and next_skip < window_end:
        params = [(k, v) for k, v in args.items(multi=True) if k not in ("$skip", "$top")]
        params.append(("$skip", str(next_skip)))
        if top is not None:
            params.append(("$top", str(window_end - next_skip)))
        body["@odata.nextLink"] = f"{ctx.request.base_url}?{urlencode(params, safe='$,()')}"
    return json_response(body)


def _row_body(ctx: Context, table: Table) -> dict[str, Any]:
    body = ctx.json_body()
    if not isinstance(body, dict):
        raise odata.bad_request("InvalidBody", "The request body must be a JSON object.")
    for name, value in body.items():
        attribute = table.attribute(name)
        if attribute is None:
            raise odata.bad_request("InvalidBody", f"The property '{name}' does not exist on type '{table.name}'.")
        allowed = _TYPES.get(attribute.data_type, (str,))
        if value is not None and (not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool))):
            raise odata.bad_request("InvalidBody", f"Cannot convert the value of '{name}' to {attribute.data_type}.")
    return body


def create(ctx: Context, iid: str, entity_name: str) -> Response:
    """Create a row; 201 ``CreatedResult`` (409 if the primary key exists)."""
    inst = ctx.instance(iid)
    table = _table(inst, entity_name)
    body = _row_body(ctx, table)
    key = str(body.get(table.primary_key) or uuid.uuid4())
    if table.find_row(key) is not None:
        raise CIError(409, "EntityAlreadyExists", f"An entity with {table.primary_key} '{key}' already exists.")
    row = {a.name: body.get(a.name) for a in table.attributes}
    row[table.primary_key] = key
    table.rows.append(row)
    location = f"{ctx.request.host_url}v1/instances/{inst.id}/data/{table.name}/{quote(key, safe='')}"
    result = {"location": location, "value": row, "formatters": [], "contentTypes": [], "statusCode": 201}
    return json_response(result, 201, headers={"Location": location})


def update(ctx: Context, iid: str, entity_name: str, entity_id: str) -> Response:
    """Merge the body into the row with primary key ``entity_id``; 204 (404 if absent)."""
    inst = ctx.instance(iid)
    table = _table(inst, entity_name)
    row = table.find_row(entity_id)
    if row is None:
        raise CIError(404, "EntityNotFound", f"No '{table.name}' entity has {table.primary_key} '{entity_id}'.")
    body = _row_body(ctx, table)
    if table.primary_key in body and str(body[table.primary_key]) != entity_id:
        raise odata.bad_request("InvalidBody", f"The key property '{table.primary_key}' cannot be changed.")
    row.update(body)
    return Response(status=204)


_D = "/instances/<iid>/data"
ROUTES = [
    Route(f"{_D}/<path:relative_path>", ("GET",), "Get-entities-with-OData-path", query, "odata"),
    Route(f"{_D}/<entity_name>", ("POST",), "Create-an-entity", create, "odata"),
    Route(f"{_D}/<entity_name>/<entity_id>", ("PATCH",), "Update-an-entity", update, "odata"),
]
