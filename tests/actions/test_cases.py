"""One case per customer: which of its invoices are chased, held or promised, and the action and tone."""

import json
from datetime import date, timedelta

import duckdb
import pytest
from ar_radar import database
from ar_radar.actions.cases import case_for, reminders_sent

AS_OF = date(2026, 11, 20)
TIER = {0: "upcoming", 1: "light", 8: "direct", 22: "escalation_note", 46: "owner_review"}
BUCKET = {0: "not yet due", 1: "1-7", 8: "8-21", 22: "22-45", 46: "45+"}


def _edge(days: int) -> int:
    return max(edge for edge in TIER if edge <= max(days, 0))


def _row(number, days, band="low", dispute=None, tier=None):
    return {
        "tenant_id": "t",
        "contact_id": "c",
        "contact_name": "Acme Ltd",
        "base_currency": "GBP",
        "invoice_id": f"id-{number}",
        "invoice_number": number,
        "days_overdue": days,
        "due_date": AS_OF - timedelta(days=days),
        "dispute_ticket_id": dispute,
        "risk_band": band,
        "risk_probability": 0.5,
        "amount_due_base": 100.0,
        "reminder_tier": TIER[_edge(days)],
        "collections_bucket": BUCKET[_edge(days)],
        "relationship_tier": tier,
    }


def _promise(promised_for, status):
    return {
        "note_id": "n-1",
        "noted_at": AS_OF - timedelta(days=5),
        "promised_for": promised_for,
        "promise_phrase": "by Friday",
        "status": status,
    }


@pytest.mark.parametrize(
    ("days", "action", "tone"),
    [
        (1, "light_reminder", "light"),
        (7, "light_reminder", "light"),
        (8, "direct_reminder", "direct"),
        (21, "direct_reminder", "direct"),
        (22, "escalation_note", "escalation_note"),
        (45, "escalation_note", "escalation_note"),
        (46, "owner_review", "owner_review"),  # 45+ is owner review, never an escalation email
    ],
)
def test_the_action_follows_the_collections_tier_of_the_oldest_chased_invoice(days, action, tone):
    case = case_for([_row("INV-1", days), _row("INV-2", 2)], None)
    assert (case.action, case.tone) == (action, tone)
    assert [i["status"] for i in case.invoices] == ["chase", "chase"]  # one case for the customer's invoices


def test_disputed_invoices_are_held_and_never_set_the_tier():
    case = case_for([_row("INV-1", 50, dispute="tk-9"), _row("INV-2", 3)], None)
    assert case.action == "light_reminder" and [i["status"] for i in case.chased] == ["chase"]
    assert any("held for a dispute" in f for f in case.flags)
    held = case_for([_row("INV-1", 50, dispute="tk-9")], None)
    assert held.action == "hold_for_dispute" and "tk-9" in held.reason and held.tone is None


def test_a_pending_promise_holds_what_was_due_by_the_promised_day():
    promise = _promise(AS_OF + timedelta(days=2), "pending")
    case = case_for([_row("INV-1", 30), _row("INV-2", 10)], promise)
    assert case.action == "await_promise" and "not chased until 2026-11-25" in case.reason
    assert {i["status"] for i in case.invoices} == {"promised"}


def test_a_broken_promise_makes_the_tone_firmer_and_is_flagged():
    case = case_for([_row("INV-1", 5)], _promise(AS_OF - timedelta(days=4), "broken"))
    assert (case.action, case.reminder_tier, case.tone) == ("light_reminder", "light", "direct")
    assert case.flags == ["broken promise: payment was promised for 2026-11-16"]


def test_a_vip_customer_gets_a_softer_tone_and_internal_tiers_stay_internal():
    assert case_for([_row("INV-1", 10, tier="VIP")], None).tone == "light"
    assert case_for([_row("INV-1", 30, tier="VIP")], None).tone == "escalation_note"
    both = case_for([_row("INV-1", 10, tier="VIP")], _promise(AS_OF - timedelta(days=9), "broken"))
    assert both.tone == "direct"  # softer and firmer cancel out


def test_nothing_overdue_means_a_check_in_only_for_risky_invoices_due_soon():
    assert case_for([_row("INV-1", -3, band="low")], None) is None
    assert case_for([_row("INV-1", -20, band="high")], None) is None
    upcoming = case_for([_row("INV-1", -3, band="high")], None)
    assert upcoming.action == "upcoming_due" and upcoming.tone == "upcoming"


def test_an_invoice_reminded_three_times_goes_to_owner_review_not_a_fourth_email():
    rows = [_row("INV-1", 12), _row("INV-2", 3)]
    assert case_for(rows, None, {"id-INV-1": 2}).action == "direct_reminder"
    worn = case_for(rows, None, {"id-INV-1": 3})
    assert (worn.action, worn.tone, worn.reminder_tier) == ("owner_review", "owner_review", "owner_review")
    assert worn.reason.startswith("INV-1 already had 3 reminders without payment")
    # a VIP's softer tone does not turn owner review back into an email
    assert case_for([_row("INV-1", 12, tier="VIP")], None, {"id-INV-1": 3}).tone == "owner_review"


def test_reminders_sent_counts_each_invoice_of_each_sent_email_before_the_day():
    con = duckdb.connect()
    con.execute("create schema outreach")
    assert reminders_sent(con, AS_OF) == {}  # a fresh warehouse has no log yet
    database.ensure(con, "outreach.reminder_log")
    rows = [("2026-11-01", "sent", ["a", "b"]), ("2026-11-05", "sent", ["a"]), ("2026-11-06", "skipped", ["a"])]
    rows.append(("2026-11-20", "sent", ["a"]))  # today's own sends do not change today's case (re-runs)
    for day, status, ids in rows:
        con.execute(
            "insert into outreach.reminder_log (as_of_date, status, invoices) values (?, ?, ?)",
            [day, status, json.dumps([{"invoice_id": i} for i in ids])],
        )
    assert reminders_sent(con, AS_OF) == {"a": 2, "b": 1}


def test_the_reason_says_one_day_in_the_singular():
    assert "INV-1 is 1 day past due" in case_for([_row("INV-1", 1)], None).reason
    assert "INV-1 is 2 days past due" in case_for([_row("INV-1", 2)], None).reason
    assert "INV-1 is due in 1 day with high risk" in case_for([_row("INV-1", -1, band="high")], None).reason
