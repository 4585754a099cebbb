"""The "Contoso Retail" sample instance: deterministic content (seeded), timestamps relative to now.

Data sources: eCommerce (powerQuery, updated), Loyalty (attachCdm, updateFailed by a recent on-demand
ingestion), PoS (powerQuery, updated), ContactCenter (dynamics365, added recently, notUpdated).
System tables: Customer (250 rows), UnifiedActivity, Customer_Measure, segment and measure tables.
Jobs: a scheduled full refresh 3 h ago (successful), a failed Loyalty ingestion 70 min ago and an
on-demand ChurnRisk segmentation 30 min ago.
"""
from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from . import scenarios, workflow
from .state import Attribute, Instance, KeyRing, MeasureEvaluation, Schedule, SegmentEvaluation, Table, utcnow

SAMPLE_INSTANCE_ID = "6d3f1c2e-8b4a-4f5e-9c7d-2a1b3c4d5e6f"
SAMPLE_INSTANCE_NAME = "Contoso Retail"
CUSTOMER_COUNT = 250
_SEED = 20240601
_FIRST = ["Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
          "Mia", "Mason", "Amelia", "Ethan", "Harper", "Logan", "Evelyn", "Jacob", "Abigail", "Michael"]
_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez", "Lopez",
         "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Walker", "Hall"]
_PLACES = [("US", "Seattle"), ("US", "New York"), ("US", "Chicago"), ("GB", "London"), ("GB", "Manchester"),
           ("DE", "Berlin"), ("DE", "Munich"), ("FR", "Paris"), ("NL", "Amsterdam"), ("CA", "Toronto")]
HIGH_VALUE_THRESHOLD = 1000.0
CHURN_CUTOFF = "2025-06-01T00:00:00Z"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _date(rng: random.Random, start: datetime, days: int) -> str:
    moment = start + timedelta(days=rng.randrange(days), seconds=rng.randrange(86400))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class _Dataset:
    """The seeded part of the sample: ids and rows (copied into each new instance)."""

    ids: dict[str, str]
    rows: dict[str, list[dict[str, Any]]]
    keyrings: list[KeyRing]
    spend: dict[str, float]
    last_purchase: dict[str, str]


@lru_cache(maxsize=4)
def _dataset(instance_id: str) -> _Dataset:
    rng = random.Random(f"{_SEED}:{instance_id}")
    ids = {name: _uuid(rng) for name in ("schedule", "eCommerce", "Loyalty", "PoS", "ContactCenter")}
    base = datetime(2022, 1, 1, tzinfo=timezone.utc)
    orders_from = datetime(2024, 1, 1, tzinfo=timezone.utc)
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    keyrings: list[KeyRing] = []
    spend: defaultdict[str, float] = defaultdict(float)
    last_purchase: dict[str, str] = {}
    for i in range(CUSTOMER_COUNT):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        country, city = rng.choice(_PLACES)
        email = f"{first}.{last}{i + 1}@example.com".lower()
        phone = f"+1-555-{rng.randrange(10000):04d}"
        contact_id, customer_id = f"EC{i + 1:05d}", _uuid(rng)
        signed_up = _date(rng, base, 1000)
        rows["contacts"].append({"ContactId": contact_id, "FirstName": first, "LastName": last, "EMail": email,
                                 "Country": country, "City": city, "CreatedOn": signed_up})
        keys = [("eCommerce", "eCommerceContacts", contact_id)]
        loyalty_id = None
        if rng.random() < 0.72:
            loyalty_id = f"LY{len(rows['loyalty']) + 1:05d}"
            rows["loyalty"].append({"LoyaltyId": loyalty_id, "FullName": f"{first} {last}", "Email": email,
                                    "Telephone": phone, "RewardPoints": rng.randrange(0, 5000),
                                    "CreatedOn": _date(rng, base, 1000)})
            keys.append(("Loyalty", "loyCustomers", loyalty_id))
        keyrings.append(KeyRing(customer_id, keys))
        orders: list[tuple[str, str, str, float, str]] = []
        order: dict[str, Any]
        for _ in range(rng.randrange(0, 4)):
            order = {"PurchaseId": f"ECP{len(rows['web']) + 1:06d}", "ContactId": contact_id,
                     "PurchasedOn": _date(rng, orders_from, 670), "TotalPrice": round(rng.uniform(15, 450), 2)}
            rows["web"].append(order)
            orders.append(("eCommerce_eCommercePurchases", order["PurchaseId"], order["PurchasedOn"],
                           order["TotalPrice"], "eCommerce purchase"))
        for _ in range(rng.randrange(0, 4) if loyalty_id else 0):
            order = {"PurchaseId": f"POS{len(rows['store']) + 1:06d}", "LoyaltyId": loyalty_id,
                     "SalesDate": _date(rng, orders_from, 670), "TotalAmount": round(rng.uniform(5, 900), 2),
                     "StoreId": f"S{rng.randrange(1, 13):03d}"}
            rows["store"].append(order)
            orders.append(("PoS_posPurchases", order["PurchaseId"], order["SalesDate"], order["TotalAmount"],
                           "Store purchase"))
        for source, purchase_id, when, amount, display in orders:
            rows["activities"].append({
                "ActivityId": _uuid(rng), "CustomerId": customer_id, "ActivityTime": when, "ActivityType": "Purchase",
                "ActivityTypeDisplay": display, "SourceEntity": source, "Subject": f"Order {purchase_id}",
                "Amount": amount})
            spend[customer_id] += amount
            last_purchase[customer_id] = max(last_purchase.get(customer_id, ""), when)
        rows["customers"].append({"CustomerId": customer_id, "FirstName": first, "LastName": last,
                                  "FullName": f"{first} {last}", "Email": email, "Telephone": phone, "City": city,
                                  "Country": country, "CreatedOn": signed_up})
        rows["customer_measures"].append({"CustomerId": customer_id,
                                          "CustomerLifetimeSpend": round(spend[customer_id], 2),
                                          "PurchaseCount": len(orders)})
    rows["activities"].sort(key=lambda a: a["ActivityTime"])
    return _Dataset(ids, dict(rows), keyrings, dict(spend), last_purchase)


def build_sample(instance_id: str = SAMPLE_INSTANCE_ID, name: str = SAMPLE_INSTANCE_NAME,
                 now: datetime | None = None) -> Instance:
    """Build the sample instance (same content for the same ``instance_id``)."""
    now = (now or utcnow()).replace(microsecond=0)
    data = _dataset(instance_id)
    rows = {key: [dict(r) for r in value] for key, value in data.rows.items()}
    inst = Instance(id=instance_id, name=name, created=now - timedelta(days=120),
                    schedule=Schedule(id=data.ids["schedule"], cron=["0 2 * * *"]), keyrings=list(data.keyrings))
    created = now - timedelta(days=90)
    ecommerce = scenarios.add_data_source(inst, "eCommerce", kind="powerQuery", entities=[],
                                          ds_id=data.ids["eCommerce"], refresh_state="updated", now=created)
    loyalty = scenarios.add_data_source(inst, "Loyalty", friendly_name="Loyalty program", kind="attachCdm",
                                        entities=[], ds_id=data.ids["Loyalty"], refresh_state="updated", now=created)
    loyalty.model_json_path = "https://contosoretail.dfs.core.windows.net/loyalty/model.json"
    pos = scenarios.add_data_source(inst, "PoS", friendly_name="Point of sale", kind="powerQuery", entities=[],
                                    ds_id=data.ids["PoS"], refresh_state="updated", now=created)
    text = Attribute
    scenarios.add_source_table(inst, ecommerce, "eCommerceContacts", [
        text("ContactId"), text("FirstName"), text("LastName"), text("EMail"), text("Country"), text("City"),
        Attribute("CreatedOn", "dateTime")], "ContactId", rows["contacts"], "profile")
    scenarios.add_source_table(inst, ecommerce, "eCommercePurchases", [
        text("PurchaseId"), text("ContactId"), Attribute("PurchasedOn", "dateTime"),
        Attribute("TotalPrice", "decimal")], "PurchaseId", rows["web"], "activity", "PurchasedOn")
    scenarios.add_source_table(inst, loyalty, "loyCustomers", [
        text("LoyaltyId"), text("FullName"), text("Email"), text("Telephone"), Attribute("RewardPoints", "int64"),
        Attribute("CreatedOn", "dateTime")], "LoyaltyId", rows["loyalty"], "profile")
    scenarios.add_source_table(inst, pos, "posPurchases", [
        text("PurchaseId"), text("LoyaltyId"), Attribute("SalesDate", "dateTime"),
        Attribute("TotalAmount", "decimal"), text("StoreId")], "PurchaseId", rows["store"], "activity", "SalesDate")
    for ds in (ecommerce, loyalty, pos):
        ds.entity_names = [t.entity_name for t in inst.tables.values() if t.data_source_id == ds.id]
    _system_tables(inst, rows["customers"], rows["activities"], rows["customer_measures"], now)
    _sample_segments(inst, rows["customers"], data.spend, data.last_purchase, now)
    _sample_measures(inst, rows["customers"], data.spend, now)
    _sample_jobs(inst, loyalty.id, now)
    scenarios.add_data_source(inst, "ContactCenter", friendly_name="Contact center", kind="dynamics365",
                              entities=["Cases"], ds_id=data.ids["ContactCenter"], now=now - timedelta(minutes=20))
    return inst


def _system_tables(inst: Instance, customers: list[dict[str, Any]], activities: list[dict[str, Any]],
                   customer_measures: list[dict[str, Any]], now: datetime) -> None:
    refreshed = now - timedelta(hours=3)
    inst.tables["Customer"] = Table(
        name="Customer", entity_name="Customer", entity_type="profile", dataflow_type="conflationResolveConflicts",
        attributes=[Attribute(n) for n in ("CustomerId", "FirstName", "LastName", "FullName", "Email", "Telephone",
                                           "City", "Country")] + [Attribute("CreatedOn", "dateTime")],
        primary_key="CustomerId", rows=customers, refresh_time=refreshed)
    inst.tables["UnifiedActivity"] = Table(
        name="UnifiedActivity", entity_name="UnifiedActivity", entity_type="unifiedActivity",
        dataflow_type="unifiedActivity",
        attributes=[Attribute("ActivityId"), Attribute("CustomerId"), Attribute("ActivityTime", "dateTime"),
                    Attribute("ActivityType"), Attribute("ActivityTypeDisplay"), Attribute("SourceEntity"),
                    Attribute("Subject"), Attribute("Amount", "decimal")],
        primary_key="ActivityId", rows=activities, timestamp_attribute="ActivityTime", refresh_time=refreshed)
    inst.tables["Customer_Measure"] = Table(
        name="Customer_Measure", entity_name="Customer_Measure", entity_type="profileKpi", dataflow_type="kpi",
        attributes=[Attribute("CustomerId"), Attribute("CustomerLifetimeSpend", "decimal"),
                    Attribute("PurchaseCount", "int64")],
        primary_key="CustomerId", rows=customer_measures, refresh_time=refreshed)


def _sample_segments(inst: Instance, customers: list[dict[str, Any]], spend: dict[str, float],
                     last_purchase: dict[str, str], now: datetime) -> None:
    ids = [c["CustomerId"] for c in customers]
    high_value = [c for c in ids if spend[c] > HIGH_VALUE_THRESHOLD]
    churn = [c for c in ids if c in last_purchase and last_purchase[c] < CHURN_CUTOFF]
    scenarios.add_segment(inst, "HighValueCustomers", friendly_name="High value customers",
                          description=f"Lifetime spend above {HIGH_VALUE_THRESHOLD:.0f}", members=high_value,
                          criteria=("Customer_Measure.CustomerLifetimeSpend", "greaterThan", "1000"),
                          now=now - timedelta(days=60))
    scenarios.add_segment(inst, "ChurnRisk", friendly_name="Churn risk",
                          description="No purchase since June 2025", members=churn,
                          criteria=("UnifiedActivity.ActivityTime", "lessThan", CHURN_CUTOFF),
                          now=now - timedelta(days=45))
    scenarios.add_segment(inst, "WinterCampaign2024", friendly_name="Winter campaign 2024",
                          description="Retired campaign audience", state="inactive", now=now - timedelta(days=300))
    for seg, members in ((inst.segments["HighValueCustomers"], high_value), (inst.segments["ChurnRisk"], churn)):
        seg.history = [SegmentEvaluation(_days_ago(now, days), max(len(members) - days, 0), "CompletedSuccess")
                       for days in range(14, 0, -1)]


def _days_ago(now: datetime, days: int) -> datetime:
    """When the daily evaluation ``days`` days back ran (2 h later in the day than ``now``)."""
    return now - timedelta(days=days, hours=-2)


def _sample_measures(inst: Instance, customers: list[dict[str, Any]], spend: dict[str, float],
                     now: datetime) -> None:
    created = now - timedelta(days=80)
    total = round(sum(spend.values()), 2)
    active = sum(1 for c in customers if spend[c["CustomerId"]] > 0)
    by_country: dict[str, float] = defaultdict(float)
    for c in customers:
        by_country[c["Country"]] += spend[c["CustomerId"]]
    scenarios.add_measure(inst, "TotalRevenue", display_name="Total revenue",
                          description="Sum of all web and store purchases", value=total,
                          aggregate=("sum", "UnifiedActivity.Amount"), now=created)
    scenarios.add_measure(inst, "ActiveCustomers", display_name="Active customers",
                          description="Customers with at least one purchase", value=active,
                          aggregate=("countDistinct", "UnifiedActivity.CustomerId"), now=created)
    scenarios.add_measure(inst, "RevenueByCountry", display_name="Revenue by country", is_scalar=False,
                          dimension="Country", values={k: round(v, 2) for k, v in sorted(by_country.items())},
                          aggregate=("sum", "UnifiedActivity.Amount"), now=created)
    scenarios.add_measure(inst, "CustomerLifetimeSpend", display_name="Customer lifetime spend",
                          description="Per-customer spend (column of Customer_Measure)", is_profile=True,
                          aggregate=("sum", "UnifiedActivity.Amount"), now=created)
    for measure in inst.measures.values():
        if measure.history:
            values = measure.history[0].values
            measure.history = [MeasureEvaluation(_days_ago(now, days), "completed", dict(values), None)
                               for days in range(14, 0, -1)]


def _sample_jobs(inst: Instance, loyalty_id: str, now: datetime) -> None:
    def run(job_start: datetime, operation_type: str, identifiers: list[str], kind: str, fail: bool = False,
            message: str | None = None) -> None:
        job = workflow.submit(inst, operation_type, identifiers, submission_kind=kind, now=job_start)
        step = job_start
        while not job.is_finished:
            step += timedelta(minutes=2)
            workflow.advance(inst, job, fail=fail, message=message, now=step)

    run(now - timedelta(hours=3), "all", [], "scheduled")
    run(now - timedelta(minutes=70), "ingestion", [loyalty_id], "onDemand", fail=True,
        message="The credentials of data source 'Loyalty program' have expired.")
    run(now - timedelta(minutes=30), "segmentation", ["ChurnRisk"], "onDemand")
