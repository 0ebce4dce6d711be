"""The daily action queue: which invoice to act on today, how, and why.

Built from ``scoring.invoice_risk_scores``; written as JSON (schema in ARCHITECTURE.md) to
``<data>/output/action_queue_<as_of>.json``. Only invoices that need an action today are queued:
every overdue invoice, and not-yet-due invoices whose risk warrants a touch before the due date.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from ar_radar import database
from ar_radar.scoring.bands import BAND_NOTE

# 2: amounts in base currency name their currency; totals are per base currency (summary.by_currency),
# never added across organisations whose base currencies differ.
SCHEMA_VERSION = 2
OWNER_REVIEW_AMOUNT = float(os.environ.get("AR_RADAR_OWNER_REVIEW_AMOUNT", "10000"))

ACTIONS = {
    # code: (label, priority: lower first)
    "hold_for_dispute": ("Hold for dispute", 0),
    "escalation": ("Escalate", 1),
    "owner_review": ("Owner review", 2),
    "gentle_reminder": ("Gentle reminder", 3),
    "value_added_follow_up": ("Value-added follow-up", 4),
}


def next_best_action(row: dict) -> tuple[str, str] | None:
    """The action for one scored invoice and the reason, or None when nothing is due today."""
    overdue, band_ = int(row["days_overdue"]), row["risk_band"]
    if row.get("dispute_ticket_id"):
        return "hold_for_dispute", (
            f"Disputed in HubSpot ticket {row['dispute_ticket_id']}: resolve the dispute before chasing payment."
        )
    if overdue > 0 and float(row["amount_due_base"]) >= OWNER_REVIEW_AMOUNT and band_ == "high":
        return "owner_review", f"High risk and over {row['base_currency']} {OWNER_REVIEW_AMOUNT:,.0f}."
    if overdue > 30 or (overdue > 14 and band_ == "high"):
        return "escalation", f"{overdue} days past due with {band_} risk."
    if overdue > 0:
        return "gentle_reminder", f"{overdue} days past due."
    if band_ in ("medium", "high") and -overdue <= 7:
        return "value_added_follow_up", f"Due in {-overdue} days with {band_} risk: check in before the due date."
    return None


def _rows(con: duckdb.DuckDBPyConnection, sql: str, as_of: date) -> list[dict]:
    cursor = con.execute(sql, [as_of])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _customer_rollup(row: dict | None) -> dict:
    """The customer's whole open position (all its open invoices, queued or not)."""
    if row is None:
        return {}
    return {
        "open_invoices": int(row["open_invoices"]),
        "open_amount_base": float(row["open_amount_base"]),
        "overdue_amount_base": float(row["overdue_amount_base"]),
        "expected_late_amount_base": float(row["expected_late_amount_base"]),
        "risk_band": row["risk_band"],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


def build_action_queue(db_path: Path, as_of: date, warnings: list[str] | None = None) -> dict:
    """The queue for ``as_of`` as a JSON-ready dict."""
    with database.connect(db_path, read_only=True) as con:
        scores = _rows(
            con,
            "SELECT * FROM scoring.invoice_risk_scores WHERE as_of_date = ? ORDER BY tenant_id, invoice_number",
            as_of,
        )
        customers = {
            (row["tenant_id"], row["contact_id"]): row
            for row in _rows(con, "SELECT * FROM scoring.customer_risk WHERE as_of_date = ?", as_of)
        }
        organisations = _rows(con, "SELECT * FROM scoring.cash_forecast WHERE as_of_date = ? ORDER BY 2", as_of)
    items = []
    for row in scores:
        decision = next_best_action(row)
        if decision is None:
            continue
        code, reason = decision
        items.append(
            {
                "tenant_id": row["tenant_id"],
                "invoice_id": row["invoice_id"],
                "invoice_number": row["invoice_number"],
                "customer": {
                    "contact_id": row["contact_id"],
                    "name": row["contact_name"],
                    "hubspot_company_id": row["hubspot_company_id"],
                    **_customer_rollup(customers.get((row["tenant_id"], row["contact_id"]))),
                },
                "currency_code": row["currency_code"],
                "amount_due": float(row["amount_due"]),
                "base_currency": row["base_currency"],
                "amount_due_base": float(row["amount_due_base"]),
                "due_date": _iso(row["due_date"]),
                "days_overdue": int(row["days_overdue"]),
                "aging_bucket": row["aging_bucket"],
                "collections_bucket": row["collections_bucket"],
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
                "next_action": {"code": code, "label": ACTIONS[code][0], "reason": reason},
                "model_version": row["model_version"],
            }
        )
    items.sort(key=lambda i: (ACTIONS[i["next_action"]["code"]][1], -i["risk"]["probability"] * i["amount_due_base"]))
    for rank, item in enumerate(items, start=1):
        item["rank"] = rank
    overdue = [s for s in scores if s["days_overdue"] > 0]
    return {
        "schema_version": SCHEMA_VERSION,
        "as_of_date": as_of.isoformat(),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "summary": {
            "open_invoices": len(scores),
            "queued": len(items),
            "overdue_invoices": len(overdue),
            "by_action": {code: sum(1 for i in items if i["next_action"]["code"] == code) for code in ACTIONS},
            "by_currency": by_currency(scores, organisations),
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


def write_action_queue(queue: dict, output_dir: Path) -> Path:
    """Write atomically to ``action_queue_<as_of>.json`` (a re-run replaces the day's file)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"action_queue_{queue['as_of_date']}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(queue, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path
