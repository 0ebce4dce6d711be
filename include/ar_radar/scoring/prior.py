"""rules-v1: the documented cold-start prior, for an organisation without its own model yet.

The probability is ``sigmoid(BIAS + sum of contributions)`` of a handful of factors with hand-set weights
(WEIGHTS), read from ``marts.customer_risk_features`` (the customer's history as of today, by the same dbt
macro as the model's features) and the invoice's aging. The score's ``model_note`` says why the prior was used.
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from typing import Any

import pandas as pd

from ar_radar.scoring.bands import band
from ar_radar.scoring.payment_timing import HORIZONS
from ar_radar.wording import count

MODEL_VERSION = "rules-v1"
BIAS = -1.6
LOW_HISTORY = 3  # fewer paid invoices than this and the customer's own history says little


def _num(value: object, default: float = 0.0) -> float:
    """A feature value, with missing (None/NaN/NA) read as ``default``."""
    return default if value is None or pd.isna(value) else float(value)


def factor_values(row: Any) -> dict[str, tuple[float, str]]:
    """Each factor's value for one invoice (a row of the scoring input) and how a person would say it."""
    paid = int(_num(row.paid_invoice_count))
    values: dict[str, tuple[float, str]] = {}
    overdue = max(0, int(row.days_overdue))
    if overdue:
        values["days_overdue"] = (min(overdue, 90) / 30, f"{count(overdue, 'day')} past due")
    else:
        values["not_yet_due"] = (1.0, f"Not due for {count(-int(row.days_overdue), 'day')}")
    if paid >= LOW_HISTORY:
        share = _num(row.share_paid_late)
        values["share_paid_late"] = (
            share - 0.25,
            f"Paid {int(_num(row.paid_late_count))} of {paid} past invoices late",
        )
        avg = _num(row.avg_days_late)
        values["avg_days_late"] = (min(avg, 60) / 30, f"Pays on average {count(avg, 'day')} after due date")
    else:
        values["little_history"] = (1.0, f"Only {count(paid, 'paid invoice')} on record")
    if disputes := int(_num(row.open_dispute_count)):
        values["open_dispute"] = (1.0, f"{count(disputes, 'open dispute ticket')} in HubSpot for this customer")
    if notes := int(_num(row.recent_negative_note_count)):
        values["negative_notes"] = (min(notes, 3), f"{count(notes, 'recent CRM note')} read negative")
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


def _chance_within(earliest: date, latest: date, as_of: date, days: int) -> float:
    """Chance of payment within `days` of as_of, reading the rules' interval as a uniform spread."""
    span = (latest - earliest).days + 1
    return min(1.0, max(0.0, ((as_of + timedelta(days=days)) - earliest).days + 1) / span)


def score_by_prior(frame: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Score rows of ``fct_ar_aging`` joined to ``customer_risk_features`` by the rules-v1 prior."""
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
        earliest = max(predicted - timedelta(days=spread), as_of + timedelta(days=1))
        latest = predicted + timedelta(days=spread)
        rows.append(
            {
                "risk_probability": round(probability, 4),
                "risk_band": band(probability),
                "top_factors": json.dumps(top),
                "predicted_payment_date": predicted,
                "predicted_payment_earliest": earliest,
                "predicted_payment_latest": latest,
                **{f"paid_within_{h}d": round(_chance_within(earliest, latest, as_of, h), 4) for h in HORIZONS},
            }
        )
    scored = pd.concat([frame.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
    scored["model_version"] = MODEL_VERSION
    return scored
