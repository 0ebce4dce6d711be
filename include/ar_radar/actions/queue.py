"""The daily action queue: which customer to act on today, how, and why.

Built from the day's customer cases (``ar_radar.actions.cases``: one per customer, its invoices grouped, the
action following the collections tier of its oldest unpaid invoice); written as JSON (schema in ARCHITECTURE.md) to
``<data>/output/action_queue_<as_of>.json``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ar_radar import database
from ar_radar.actions.cases import ACTIONS, Case, customer_cases
from ar_radar.scoring.bands import BAND_NOTE

# 2: amounts in base currency name their currency; totals are per base currency (summary.by_currency).
# 3: one item per customer (its invoices listed in it), actions by collections tier, promises to pay.
SCHEMA_VERSION = 3


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _invoice(row: dict) -> dict:
    return {
        "invoice_id": row["invoice_id"],
        "invoice_number": row["invoice_number"],
        "status": row["status"],
        "currency_code": row["currency_code"],
        "amount_due": float(row["amount_due"]),
        "amount_due_base": float(row["amount_due_base"]),
        "due_date": _iso(row["due_date"]),
        "days_overdue": int(row["days_overdue"]),
        "aging_bucket": row["aging_bucket"],
        "collections_bucket": row["collections_bucket"],
        "dispute_ticket_id": row["dispute_ticket_id"],
        "risk": {
            "probability": row["risk_probability"],
            "band": row["risk_band"],
            "band_note": BAND_NOTE,
            "top_factors": json.loads(row["top_factors"]),
            "basis": row["model_note"],
        },
        "predicted_payment": {
            "date": _iso(row["predicted_payment_date"]),
            "earliest": _iso(row["predicted_payment_earliest"]),
            "latest": _iso(row["predicted_payment_latest"]),
            "chance_within_7_days": row["paid_within_7d"],
            "chance_within_30_days": row["paid_within_30d"],
        },
        "model_version": row["model_version"],
    }


def _item(case: Case, rollup: dict | None) -> dict:
    whole = (
        {
            "open_invoices": int(rollup["open_invoices"]),
            "open_amount_base": float(rollup["open_amount_base"]),
            "overdue_amount_base": float(rollup["overdue_amount_base"]),
            "expected_late_amount_base": float(rollup["expected_late_amount_base"]),
            "risk_band": rollup["risk_band"],
        }
        if rollup
        else {}
    )
    promise = case.promise and {
        **case.promise,
        "noted_at": _iso(case.promise["noted_at"]),
        "promised_for": _iso(case.promise["promised_for"]),
    }
    return {
        "tenant_id": case.tenant_id,
        "customer": {
            "contact_id": case.contact_id,
            "name": case.customer_name,
            "hubspot_company_id": case.hubspot_company_id,
            "relationship_tier": case.relationship_tier,
            **whole,  # the customer's whole open position, queued or not
        },
        "action": {"code": case.action, "label": ACTIONS[case.action][0], "reason": case.reason},
        "reminder_tier": case.reminder_tier,
        "tone": case.tone,
        "flags": case.flags,
        "promise": promise,
        "base_currency": case.base_currency,
        "amount_due_base": round(sum(float(i["amount_due_base"]) for i in case.invoices), 2),
        "oldest_days_overdue": case.oldest_days_overdue,
        "invoices": [_invoice(i) for i in case.invoices],
    }


def build_action_queue(db_path: Path, as_of: date, warnings: list[str] | None = None) -> dict:
    """The queue for ``as_of`` as a JSON-ready dict."""
    with database.connect(db_path, read_only=True) as con:
        cases = customer_cases(con, as_of)
        scores = con.execute(
            "SELECT base_currency, amount_due_base, days_overdue FROM scoring.invoice_risk_scores WHERE as_of_date = ?",
            [as_of],
        ).fetchall()
        customers = database.rows(con, "SELECT * FROM scoring.customer_risk WHERE as_of_date = ?", [as_of])
        rollups = {(r["tenant_id"], r["contact_id"]): r for r in customers}
        organisations = database.rows(
            con, "SELECT * FROM scoring.cash_forecast WHERE as_of_date = ? ORDER BY 2", [as_of]
        )
    items = [
        {"rank": rank, **_item(c, rollups.get((c.tenant_id, c.contact_id)))} for rank, c in enumerate(cases, start=1)
    ]
    score_rows = [{"base_currency": b, "amount_due_base": a, "days_overdue": d} for b, a, d in scores]
    return {
        "schema_version": SCHEMA_VERSION,
        "as_of_date": as_of.isoformat(),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "summary": {
            "open_invoices": len(scores),
            "queued": len(items),
            "queued_invoices": sum(len(i["invoices"]) for i in items),
            "overdue_invoices": sum(1 for _, _, d in scores if d > 0),
            "by_action": {code: sum(1 for i in items if i["action"]["code"] == code) for code in ACTIONS},
            "by_currency": by_currency(score_rows, organisations),
        },
        "organisations": [
            {
                "tenant_id": o["tenant_id"],
                "base_currency": o["base_currency"],
                "open_invoices": int(o["open_invoices"]),
                "open_amount_base": float(o["open_amount_base"]),
                "expected_cash_in_7_days_base": float(o["expected_cash_7d_base"]),
                "expected_cash_in_30_days_base": float(o["expected_cash_30d_base"]),
                "model_versions": o["model_versions"],
            }
            for o in organisations
        ],
        "data_health_warnings": list(warnings or []),
        "items": items,
    }


def by_currency(scores: list[dict], organisations: list[dict]) -> list[dict]:
    """Totals per base currency: organisations whose base currencies differ are never added together."""
    totals: dict[str, dict] = {}
    for o in organisations:
        entry = totals.setdefault(
            o["base_currency"],
            {
                "base_currency": o["base_currency"],
                "organisations": 0,
                "open_amount_base": 0.0,
                "overdue_amount_base": 0.0,
                "expected_cash_in_7_days_base": 0.0,
                "expected_cash_in_30_days_base": 0.0,
            },
        )
        entry["organisations"] += 1
        entry["expected_cash_in_7_days_base"] += float(o["expected_cash_7d_base"])
        entry["expected_cash_in_30_days_base"] += float(o["expected_cash_30d_base"])
    for s in scores:
        entry = totals[s["base_currency"]]
        entry["open_amount_base"] += float(s["amount_due_base"])
        if s["days_overdue"] > 0:
            entry["overdue_amount_base"] += float(s["amount_due_base"])
    return [
        {k: round(v, 2) if isinstance(v, float) else v for k, v in entry.items()}
        for _, entry in sorted(totals.items(), key=lambda kv: -kv[1]["open_amount_base"])
    ]


def file_name(as_of: str) -> str:
    return f"action_queue_{as_of}.json"


def write_action_queue(queue: dict, output_dir: Path) -> Path:
    """Write atomically to ``action_queue_<as_of>.json`` (a re-run replaces the day's file)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / file_name(queue["as_of_date"])
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(queue, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path
