"""Customer profile actions: search profiles, get a customer by an alternate key (keyring)."""
from __future__ import annotations

from ciconnector.errors import NotFound
from ciconnector.operations import Param
from ciconnector.operations.common import DATA_SOURCE_PICKER, ENTITY_PICKER, INSTANCE
from ciconnector.operations.params import NAME_MAX_LENGTH, NAME_PATTERN, TEXT_PATTERN

from . import odata
from .items import SELECT_PATTERN
from .model import Action, Call
from .refresh import data_source
from .schemas import FREE_OBJECT, compact, obj, prop

PROFILE_ENTITY = "Customer"
MAX_SEARCH_RESULTS = 100


def _search(call: Call) -> dict:
    args = call.args
    page = call.ci.query_data(call.instance_id, PROFILE_ENTITY, search=args["searchTerm"], force_search=True,
                              select=args["$select"], top=args["$top"], skip=args["$skip"])
    return {"value": page.rows[:args["$top"]]}


def _by_key(call: Call) -> dict:
    args = call.args
    source = data_source(call, args["dataSourceName"], "dataSourceName")
    keyring = call.ci.get_keyring(call.instance_id, data_source_name=source.name,
                                  entity_name=args["sourceEntityName"], key=args["key"])
    customer_id = keyring.get("customerId")
    if not isinstance(customer_id, str) or not customer_id:
        raise NotFound("CustomerNotFound", "No customer profile has this alternate key.", field="key")
    where = odata.equals("CustomerId", customer_id, name_field="CustomerId", value_field="customerId")
    rows = call.ci.query_data(call.instance_id, PROFILE_ENTITY, filter=where, top=1).rows
    ring = keyring.get("keyRing")
    return compact({"customerId": customer_id, "keyRing": ring if isinstance(ring, dict) else None,
                    "customer": rows[0] if rows else None})


SEARCH_CUSTOMER_PROFILES = Action(
    operation_id="SearchCustomerProfiles", method="GET", route="instances/{instanceId}/profiles/search",
    summary="Search customer profiles",
    description=("Searches the unified customer profiles for a term across their searchable fields. "
                 "The fields searched are the ones set up for search in the instance."),
    params=(
        INSTANCE,
        Param("searchTerm", "query", "string", "Search Term", "The text to search for, for example a name or email.",
              required=True, max_length=256, pattern=TEXT_PATTERN),
        Param("$select", "query", "string", "Select Query",
              "Comma-separated fields to return, for example CustomerId,FullName; all when empty.",
              max_length=2048, pattern=SELECT_PATTERN, visibility="advanced"),
        Param("$top", "query", "integer", "Top Count", f"How many profiles to return, 1 to {MAX_SEARCH_RESULTS}.",
              default=20, minimum=1, maximum=MAX_SEARCH_RESULTS),
        Param("$skip", "query", "integer", "Skip Count", "How many profiles to skip first.",
              default=0, minimum=0, maximum=100_000, visibility="advanced"),
    ),
    response=obj({"value": prop("array", "Profiles", "The matching customer profiles.", items=dict(FREE_OBJECT))},
                 required=("value",)),
    handler=_search)

GET_CUSTOMER_BY_ALTERNATE_KEY = Action(
    operation_id="GetCustomerByAlternateKey", method="GET", route="instances/{instanceId}/profiles/by-alternate-key",
    summary="Get a customer by alternate key",
    description=("Finds the unified customer whose keyring holds a key from a source entity, for example a "
                 "CRM contact ID, and returns the customer ID, the keyring and the profile."),
    params=(
        INSTANCE,
        Param("dataSourceName", "query", "string", "Data Source",
              "The data source of the key, by ID or unique name.",
              required=True, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN, picker=DATA_SOURCE_PICKER),
        Param("sourceEntityName", "query", "string", "Source Entity",
              "The entity of the data source that holds the key, for example contact.",
              required=True, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN, picker=ENTITY_PICKER),
        Param("key", "query", "string", "Key", "The key value in that entity.",
              required=True, max_length=256, pattern=TEXT_PATTERN),
    ),
    response=obj({
        "customerId": prop("string", "Customer ID", "The unified customer ID."),
        "keyRing": prop("object", "Keyring", "The keys of this customer in each source."),
        "customer": prop("object", "Customer", "The unified customer profile."),
    }, required=("customerId",)),
    handler=_by_key)
