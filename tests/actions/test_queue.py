"""Next best action rules and the queue JSON."""

import json
import shutil

import duckdb
import pytest
from ar_radar.actions.queue import build_action_queue, next_best_action, write_action_queue
from ar_radar.scoring.score import score_open_invoices

from tests.conftest import AS_OF


def _row(days, band="low", amount=500.0, dispute=None):
    return {
        "days_overdue": days,
        "risk_band": band,
        "amount_due_base": amount,
        "base_currency": "GBP",
        "dispute_ticket_id": dispute,
    }


@pytest.mark.parametrize(
    ("row", "action"),
    [
        (_row(50, dispute="t-1"), "hold_for_dispute"),
        (_row(20, band="high", amount=25000), "owner_review"),
        (_row(31), "escalation"),
        (_row(15, band="high"), "escalation"),
        (_row(15, band="medium"), "gentle_reminder"),
        (_row(1), "gentle_reminder"),
        (_row(-5, band="high"), "value_added_follow_up"),
        (_row(-5, band="low"), None),
        (_row(-20, band="high"), None),
    ],
)
def test_next_best_action(row, action):
    decision = next_best_action(row)
    assert (decision[0] if decision else None) == action


def test_queue_holds_every_overdue_invoice_and_matches_the_documented_schema(warehouse, tmp_path):
    db = tmp_path / "db.duckdb"
    shutil.copy(warehouse.db_path, db)
    scored = score_open_invoices(db, AS_OF)
    queue = build_action_queue(db, AS_OF, ["a warning"])
    overdue = set(scored.loc[scored.days_overdue > 0, "invoice_id"])
    assert overdue <= {i["invoice_id"] for i in queue["items"]}
    assert queue["summary"]["overdue_invoices"] == len(overdue)
    assert [i["rank"] for i in queue["items"]] == list(range(1, len(queue["items"]) + 1))
    item = queue["items"][0]
    assert set(item) == {
        "rank",
        "tenant_id",
        "invoice_id",
        "invoice_number",
        "customer",
        "currency_code",
        "amount_due",
        "base_currency",
        "amount_due_base",
        "due_date",
        "days_overdue",
        "aging_bucket",
        "collections_bucket",
        "risk",
        "predicted_payment",
        "next_action",
        "model_version",
    }
    assert item["risk"]["band_note"] == "probability indicator, not a certainty"
    assert queue["schema_version"] == 2
    # totals per base currency, against plain SQL over the aging (the shared sandbox: a GBP and a EUR organisation)
    with duckdb.connect(str(db), read_only=True) as con:
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
    assert len(item["risk"]["top_factors"]) == 3
    path = write_action_queue(queue, tmp_path / "out")
    assert json.loads(path.read_text()) == queue and path.name == f"action_queue_{AS_OF}.json"
