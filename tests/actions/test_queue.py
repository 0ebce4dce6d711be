"""The queue JSON: one item per customer, every overdue invoice in it with a status, totals per currency, and the
promises to pay the sandbox generator planted in HubSpot notes found and applied."""

import json

import duckdb
import pytest
from ar_radar.actions.promises import status
from ar_radar.actions.queue import build_action_queue, write_action_queue

from tests.conftest import AS_OF


@pytest.fixture(scope="module")
def queued(scored_warehouse):
    settings = scored_warehouse  # read-only: the queue only reads
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        scored = con.execute("select * from scoring.invoice_risk_scores where as_of_date = ?", [AS_OF]).df()
    return settings, scored, build_action_queue(settings.db_path, AS_OF, ["a warning"])


def test_one_item_per_customer_holding_every_overdue_invoice(queued, tmp_path):
    settings, scored, queue = queued
    overdue = scored.loc[scored.days_overdue > 0]
    invoices = [(item, i) for item in queue["items"] for i in item["invoices"]]
    assert set(overdue.invoice_id) <= {i["invoice_id"] for _, i in invoices}
    customers = [(item["tenant_id"], item["customer"]["contact_id"]) for item in queue["items"]]
    assert len(customers) == len(set(customers)) < len(invoices)  # grouped: some customers hold several
    assert queue["summary"]["queued"] == len(customers) and queue["summary"]["queued_invoices"] == len(invoices)
    assert queue["summary"]["overdue_invoices"] == len(overdue) and queue["schema_version"] == 3
    assert [i["rank"] for i in queue["items"]] == list(range(1, len(queue["items"]) + 1))
    # each customer is in the invoices' own customer, and a disputed invoice is never chased
    for item, invoice in invoices:
        row = scored.loc[scored.invoice_id == invoice["invoice_id"]].iloc[0]
        assert row.contact_id == item["customer"]["contact_id"]
        assert (invoice["status"] == "held_for_dispute") == isinstance(row.dispute_ticket_id, str)
    item = queue["items"][0]
    assert set(item) == {
        "rank",
        "tenant_id",
        "customer",
        "action",
        "reminder_tier",
        "tone",
        "flags",
        "promise",
        "base_currency",
        "amount_due_base",
        "oldest_days_overdue",
        "invoices",
    }
    assert item["invoices"][0]["risk"]["band_note"] == "probability indicator, not a certainty"
    assert len(item["invoices"][0]["risk"]["top_factors"]) == 3
    path = write_action_queue(queue, tmp_path)
    assert json.loads(path.read_text()) == queue and path.name == f"action_queue_{AS_OF}.json"


def test_actions_follow_the_collections_tier_of_the_oldest_chased_invoice(queued):
    _, _, queue = queued
    tier_of = {"light": "light_reminder", "direct": "direct_reminder", "escalation_note": "escalation_note"}
    tier_of["owner_review"] = "owner_review"
    edges = {"light": (1, 7), "direct": (8, 21), "escalation_note": (22, 45), "owner_review": (46, 10**6)}
    seen = set()
    for item in queue["items"]:
        chased = [i for i in item["invoices"] if i["status"] == "chase"]
        if not chased:
            assert item["action"]["code"] in ("hold_for_dispute", "await_promise", "upcoming_due")
            continue
        oldest = max(i["days_overdue"] for i in chased)
        low, high = edges[item["reminder_tier"]]
        assert low <= oldest <= high and item["action"]["code"] == tier_of[item["reminder_tier"]]
        seen.add(item["reminder_tier"])
    assert seen == set(edges)  # the shared sandbox has customers in every tier


def test_totals_are_per_base_currency(queued):
    settings, _, queue = queued
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        expected = con.execute(
            """select base_currency, count(distinct tenant_id), round(sum(amount_due_base), 2),
                      round(sum(amount_due_base) filter (where days_overdue > 0), 2)
               from marts.fct_ar_aging group by all order by 1"""
        ).fetchall()
    got = {c["base_currency"]: c for c in queue["summary"]["by_currency"]}
    assert sorted(got) == [c for c, *_ in expected] == ["EUR", "GBP"]
    for currency, organisations, open_amount, overdue_amount in expected:
        assert got[currency]["organisations"] == organisations == 1
        assert got[currency]["open_amount_base"] == pytest.approx(float(open_amount), abs=0.01)
        assert got[currency]["overdue_amount_base"] == pytest.approx(float(overdue_amount), abs=0.01)
    assert {i["base_currency"] for i in queue["items"]} == {"GBP", "EUR"}


def test_the_generators_promises_to_pay_are_found_and_applied(queued, sandbox):
    """Ground truth: the promises the generator wrote into recent notes (a date, a weekday, "next week")."""
    _, _, queue = queued
    items = {(i["tenant_id"], i["customer"]["contact_id"]): i for i in queue["items"]}
    planted = [
        (company.tenant_id, contact_id, truth)
        for company in sandbox.companies
        for contact_id, truth in company.situations.items()
        if truth["promise"] and (company.tenant_id, contact_id) in items
    ]
    assert len(planted) >= 5
    pending = broken = 0
    for tenant_id, contact_id, truth in planted:
        item = items[(tenant_id, contact_id)]
        assert item["promise"]["promised_for"] == truth["promise"].isoformat()
        assert item["promise"]["note_id"] == truth["promise_note"]
        if status(truth["promise"], AS_OF) == "pending":
            pending += 1
            assert item["action"]["code"] == "await_promise" or all(
                i["due_date"] > truth["promise"].isoformat() for i in item["invoices"] if i["status"] == "chase"
            )
        else:
            broken += 1
            assert any(f.startswith("broken promise") for f in item["flags"])
    assert pending and broken
