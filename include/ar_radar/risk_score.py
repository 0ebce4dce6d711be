"""A first transparent payment-risk score for every open invoice.

The score is a logistic function of a handful of documented factors with hand-set weights
(``rules-v1``): the probability of paying late (or later still, for an invoice already past
due) is ``sigmoid(BIAS + sum of contributions)``, and each contribution is shown to the reader
in plain words with its signed weight. A fitted model replaces the weights later; the shape of
the output (probability, band, top factors, predicted date, version) stays.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

MODEL_VERSION = "rules-v1"
BAND_NOTE = "probability indicator, not a certainty"
BIAS = -1.6
LOW_HISTORY = 3  # fewer paid invoices than this and the customer's own history says little


@dataclass(frozen=True)
class Factor:
    code: str
    weight: float  # contribution per unit of the factor's value (log-odds)


def _num(value: object, default: float = 0.0) -> float:
    """A feature value, with missing (None/NaN/NA) read as ``default``."""
    return default if value is None or pd.isna(value) else float(value)


def factor_values(row: Any) -> dict[str, tuple[float, str]]:
    """Each factor's value for one invoice (a row of the scoring input) and how a person would say it."""
    paid = int(_num(row.paid_invoice_count))
    values: dict[str, tuple[float, str]] = {}
    overdue = max(0, int(row.days_overdue))
    if overdue:
        values["days_overdue"] = (min(overdue, 90) / 30, f"{overdue} days past due")
    else:
        values["not_yet_due"] = (1.0, f"Not due for {-int(row.days_overdue)} days")
    if paid >= LOW_HISTORY:
        share = _num(row.share_paid_late)
        values["share_paid_late"] = (
            share - 0.25,
            f"Paid {int(_num(row.paid_late_count))} of {paid} past invoices late",
        )
        avg = _num(row.avg_days_late)
        values["avg_days_late"] = (min(avg, 60) / 30, f"Pays on average {avg:.0f} days after due date")
    else:
        values["little_history"] = (1.0, f"Only {paid} paid invoices on record")
    if disputes := int(_num(row.open_dispute_count)):
        values["open_dispute"] = (1.0, f"{disputes} open dispute ticket(s) in HubSpot for this customer")
    if notes := int(_num(row.recent_negative_note_count)):
        values["negative_notes"] = (min(notes, 3), f"{notes} recent CRM note(s) mention payment trouble")
    if _num(row.amount_paid) > 0:
        values["partially_paid"] = (1.0, "Partly paid already")
    return values


WEIGHTS = {
    "days_overdue": 0.9,
    "not_yet_due": -0.4,
    "share_paid_late": 3.0,
    "avg_days_late": 0.8,
    "little_history": 0.3,
    "open_dispute": 1.5,
    "negative_notes": 0.35,
    "partially_paid": 0.4,
}


def band(probability: float) -> str:
    return "low" if probability < 0.3 else "medium" if probability < 0.6 else "high"


def score_frame(frame: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Score rows of ``fct_ar_aging`` joined to ``customer_risk_features``."""
    rows = []
    for row in frame.itertuples(index=False):
        contributions = []
        for code, (value, label) in factor_values(row).items():
            weight = round(WEIGHTS[code] * value, 2)
            contributions.append({"factor": code, "label": label, "weight": weight})
        logit = BIAS + sum(c["weight"] for c in contributions)
        probability = 1 / (1 + math.exp(-logit))
        top = sorted(contributions, key=lambda c: abs(c["weight"]), reverse=True)[:3]
        # Expected days late scales with the customer's habit and the score; never in the past.
        habit = _num(row.avg_days_late, 5.0) or 5.0
        expected_late = round(probability * max(habit, 3.0) * 1.5)
        # An invoice already past its expected date is not paid tomorrow by default: allow half
        # the customer's usual lateness from today.
        soonest = as_of + timedelta(days=max(1, round(habit / 2)))
        predicted = max(row.due_date + timedelta(days=expected_late), soonest)
        spread = max(2, round(habit / 2 + 2))
        rows.append(
            {
                "risk_probability": round(probability, 4),
                "risk_band": band(probability),
                "top_factors": json.dumps(top),
                "predicted_payment_date": predicted,
                "predicted_payment_earliest": max(predicted - timedelta(days=spread), as_of + timedelta(days=1)),
                "predicted_payment_latest": predicted + timedelta(days=spread),
            }
        )
    scored = pd.concat([frame.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
    scored["model_version"] = MODEL_VERSION
    return scored


SCORE_INPUT = """
    select a.*, f.paid_invoice_count, f.paid_late_count, f.share_paid_late, f.avg_days_late,
           f.open_dispute_count, f.recent_negative_note_count, f.hubspot_company_id,
           d.ticket_id as dispute_ticket_id
    from marts.fct_ar_aging a
    left join marts.customer_risk_features f using (tenant_id, contact_id)
    left join (select tenant_id, invoice_id, min(ticket_id) as ticket_id
               from intermediate.int_invoice_disputes where is_open group by all) d using (tenant_id, invoice_id)
"""


def score_open_invoices(db_path: Path, as_of: date) -> pd.DataFrame:
    """Score every open invoice and store the scores for ``as_of`` (replacing that day's scores)."""
    with duckdb.connect(str(db_path)) as con:
        frame = con.sql(SCORE_INPUT).df()
        for column in ("invoice_date", "due_date", "as_of_date"):
            frame[column] = pd.to_datetime(frame[column]).dt.date
        scored = score_frame(frame, as_of)
        con.execute("CREATE SCHEMA IF NOT EXISTS scoring")
        con.execute("""CREATE TABLE IF NOT EXISTS scoring.invoice_risk_scores (
            as_of_date DATE, tenant_id VARCHAR, invoice_id VARCHAR, invoice_number VARCHAR,
            contact_id VARCHAR, contact_name VARCHAR, hubspot_company_id VARCHAR, due_date DATE,
            days_overdue INTEGER, aging_bucket VARCHAR, collections_bucket VARCHAR, currency_code VARCHAR,
            amount_due DECIMAL(18, 2),
            amount_due_base DECIMAL(18, 2), risk_probability DOUBLE, risk_band VARCHAR, top_factors JSON,
            predicted_payment_date DATE, predicted_payment_earliest DATE, predicted_payment_latest DATE,
            open_dispute_count BIGINT, dispute_ticket_id VARCHAR, model_version VARCHAR, scored_at TIMESTAMPTZ,
            PRIMARY KEY (as_of_date, tenant_id, invoice_id))""")
        # Columns added after the table was first created (scores tables of older versions).
        con.execute("ALTER TABLE scoring.invoice_risk_scores ADD COLUMN IF NOT EXISTS collections_bucket VARCHAR")
        con.register("scored_frame", scored)
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM scoring.invoice_risk_scores WHERE as_of_date = ?", [as_of])
        con.execute(
            """INSERT INTO scoring.invoice_risk_scores BY NAME
            SELECT ? AS as_of_date, tenant_id, invoice_id, invoice_number, contact_id, contact_name,
                   hubspot_company_id, due_date, days_overdue, aging_bucket, collections_bucket, currency_code,
                   amount_due, amount_due_base, risk_probability, risk_band, top_factors, predicted_payment_date,
                   predicted_payment_earliest, predicted_payment_latest,
                   coalesce(open_dispute_count, 0) AS open_dispute_count, dispute_ticket_id, model_version,
                   now() AS scored_at
            FROM scored_frame""",
            [as_of],
        )
        con.execute("COMMIT")
    return scored
