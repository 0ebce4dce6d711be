"""Every open invoice's payment-risk score, with its reasons, predicted payment date and model version.

An organisation with a trained model (``model_registry.choose``: its own invoices, weekly) is scored by it:
the probability that the invoice is paid more than the grace days after its due date, from what was known
when it was issued (``payment_history``: the same features the model was trained and backtested on), the
three features that moved it most with their signed log-odds weights (``risk_model.top_factors``), and a
predicted payment date whose interval comes from the model's out-of-window errors, conditioned on the
invoice still being unpaid today. The same distribution gives the chance of payment within 7 and 30 days,
which the customer roll-up and the cash forecast add up.

Cold start: an organisation without a model yet is scored by ``rules-v1``, a documented prior: the
probability is ``sigmoid(BIAS + sum of contributions)`` of a handful of factors with hand-set weights (below),
and the score's ``model_note`` says why the prior was used.
"""

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ar_radar.scoring import backtest
from ar_radar.scoring import registry as model_registry
from ar_radar.scoring.features import warehouse_history, with_outcomes
from ar_radar.scoring.model import contributions, top_factors

MODEL_VERSION = "rules-v1"  # the cold-start prior
BAND_NOTE = "probability indicator, not a certainty"
MEDIUM_AT, HIGH_AT = 0.3, 0.6  # band edges, for invoices (band) and customers (scoring.customer_risk)
HORIZONS = (7, 30)  # days ahead of the expected cash in
MIN_TAIL = 20  # errors kept to describe a very old invoice's payment date
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
    return "low" if probability < MEDIUM_AT else "medium" if probability < HIGH_AT else "high"


def _chance_within(earliest: date, latest: date, as_of: date, days: int) -> float:
    """Chance of payment within `days` of as_of, reading the rules' interval as a uniform spread."""
    span = (latest - earliest).days + 1
    return min(1.0, max(0.0, ((as_of + timedelta(days=days)) - earliest).days + 1) / span)


def score_frame(frame: pd.DataFrame, as_of: date) -> pd.DataFrame:
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


def payment_timing(predicted_days: np.ndarray, age: np.ndarray, residuals: np.ndarray) -> dict[str, np.ndarray]:
    """When invoices unpaid `age` days after issue will be paid, in days from issue: median, earliest (10th
    percentile), latest (90th), and the chance of payment within each of HORIZONS days from today.

    The distribution is the model's prediction plus its out-of-window errors (residuals), keeping only the
    errors that leave the invoice unpaid today (at least MIN_TAIL of the largest, for very old invoices)."""
    errors = np.sort(np.asarray(residuals, dtype=float))
    n = len(errors)
    lo = np.minimum(np.searchsorted(errors, age - predicted_days, side="left"), max(n - MIN_TAIL, 0))
    tail = n - lo

    def quantile(q: float) -> np.ndarray:
        return np.maximum(predicted_days + errors[lo + np.floor(q * (tail - 1)).astype(int)], age + 1)

    timing = {"median": quantile(0.5), "earliest": quantile(0.1), "latest": quantile(0.9)}
    for h in HORIZONS:
        paid_by = np.searchsorted(errors, age + h - predicted_days, side="right")
        timing[f"within_{h}"] = np.clip(paid_by - lo, 0, None) / tail
    return timing


def score_with_model(rows: pd.DataFrame, features: pd.DataFrame, bundle: dict, as_of: date) -> pd.DataFrame:
    """Score open invoices (rows of fct_ar_aging) with a trained model; features: the same invoices' features
    (payment_history, same order)."""
    columns = bundle["numeric"] + bundle["categorical"]
    x = features[columns].reset_index(drop=True)
    probability = bundle["late"].predict_proba(x)[:, 1]
    factors = top_factors(contributions(bundle["late"], x, bundle["reference"]), x)
    issued = pd.to_datetime(rows["invoice_date"]).reset_index(drop=True)
    age = (pd.Timestamp(as_of) - issued).dt.days.to_numpy()
    timing = payment_timing(bundle["days_to_pay"].predict(x), age, bundle["residuals"])

    def dates(days: np.ndarray) -> list[date]:
        return list((issued + pd.to_timedelta(np.round(days), unit="D")).dt.date)

    scored = rows.reset_index(drop=True).assign(
        risk_probability=np.round(probability, 4),
        risk_band=[band(p) for p in probability],
        top_factors=[json.dumps(f) for f in factors],
        predicted_payment_date=dates(timing["median"]),
        predicted_payment_earliest=dates(timing["earliest"]),
        predicted_payment_latest=dates(timing["latest"]),
        **{f"paid_within_{h}d": np.round(timing[f"within_{h}"], 4) for h in HORIZONS},
    )
    return scored


def _model_note(record: model_registry.ModelRecord) -> str:
    m = record.metrics
    past = m["baselines"]["customer_past_average"]["roc_auc"]
    note = (
        f"Model {record.version}, trained on {record.invoices:,} of this organisation's invoices on "
        f"{record.as_of_date}; backtest ROC-AUC {m['roc_auc']:.2f} (customer's own past average: {past:.2f}), "
        f"days-to-pay error {m['mae_days']:.1f} days"
    )
    if crm := m.get("crm_signals"):
        gain = crm["with"]["roc_auc"] - crm["without"]["roc_auc"]
        note += f"; CRM signals {'used' if crm['kept'] else 'left out'} (ROC-AUC {gain:+.3f} with them)"
    return note


def _cold_start_note(history: pd.DataFrame, as_of: date) -> str:
    known = backtest.known_at(with_outcomes(history), pd.Timestamp(as_of), 0) if len(history) else history
    return (
        f"Cold start: {len(known):,} of this organisation's invoices have a known outcome, too few for its own "
        f"model (it needs {backtest.MIN_TRAINING_ROWS} before its backtest's first window, about "
        f"{2 * backtest.MIN_TRAINING_ROWS} in all); scored by the rules-v1 prior"
    )


def score_all(db_path: Path, frame: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Score every open invoice of frame (SCORE_INPUT rows): each organisation by its chosen model, or by the
    rules-v1 prior when it has none yet (cold start) or an invoice has no customer history row."""
    import joblib

    history, _ = warehouse_history(db_path)
    features = backtest.features_frame(history.drop(columns="tenant_id"))
    features.index = history["invoice_id"].to_numpy()
    frame = frame.reset_index(drop=True)
    keys = frame["tenant_id"] + ":" + frame["invoice_id"]
    parts = []
    for tenant_id, rows in frame.groupby("tenant_id", sort=True):
        record = model_registry.choose(db_path, tenant_id, as_of)
        has_features = keys[rows.index].isin(features.index)
        if record is not None:
            modelled = rows[has_features.to_numpy()]
            scored = score_with_model(modelled, features.loc[keys[modelled.index]], joblib.load(record.path), as_of)
            parts.append(scored.assign(model_version=record.version, model_note=_model_note(record)))
            rows = rows[~has_features.to_numpy()]
            note = "No customer history for this invoice (no contact on it); scored by the rules-v1 prior"
        else:
            note = _cold_start_note(history[history["tenant_id"] == tenant_id], as_of)
        if len(rows):
            parts.append(score_frame(rows, as_of).assign(model_note=note))
    if not parts:
        return score_frame(frame, as_of).assign(model_note="")
    return pd.concat(parts, ignore_index=True)


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
    with duckdb.connect(str(db_path), read_only=True) as con:
        frame = con.sql(SCORE_INPUT).df()
    for column in ("invoice_date", "due_date", "as_of_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    scored = score_all(db_path, frame, as_of)
    with duckdb.connect(str(db_path)) as con:
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
        for column, kind in (
            ("collections_bucket", "VARCHAR"),
            ("invoice_date", "DATE"),
            ("model_note", "VARCHAR"),
            ("paid_within_7d", "DOUBLE"),
            ("paid_within_30d", "DOUBLE"),
        ):
            con.execute(f"ALTER TABLE scoring.invoice_risk_scores ADD COLUMN IF NOT EXISTS {column} {kind}")
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
                   now() AS scored_at, invoice_date, model_note, paid_within_7d, paid_within_30d
            FROM scored_frame""",
            [as_of],
        )
        con.execute("COMMIT")
        con.execute(ROLLUP_VIEWS)
    return scored


# Per customer and per organisation, every scored day: what is open, how much is likely late, and the cash
# expected in (each invoice's amount times its chance of payment within 7 / 30 days).
ROLLUP_VIEWS = f"""
CREATE OR REPLACE VIEW scoring.customer_risk AS
SELECT * EXCLUDE (weighted_probability),
       round(weighted_probability, 4) AS risk_probability,
       CASE WHEN weighted_probability >= {HIGH_AT} THEN 'high'
            WHEN weighted_probability >= {MEDIUM_AT} THEN 'medium' ELSE 'low' END AS risk_band
FROM (
    SELECT as_of_date, tenant_id, contact_id, any_value(contact_name) AS contact_name,
           count(*) AS open_invoices, sum(amount_due_base) AS open_amount_base,
           coalesce(sum(amount_due_base) FILTER (WHERE days_overdue > 0), 0) AS overdue_amount_base,
           round(sum(risk_probability * amount_due_base), 2) AS expected_late_amount_base,
           sum(risk_probability * amount_due_base) / nullif(sum(amount_due_base), 0) AS weighted_probability,
           max(days_overdue) AS max_days_overdue, min(predicted_payment_date) AS next_predicted_payment,
           round(sum(paid_within_7d * amount_due_base), 2) AS expected_cash_7d_base,
           round(sum(paid_within_30d * amount_due_base), 2) AS expected_cash_30d_base
    FROM scoring.invoice_risk_scores GROUP BY as_of_date, tenant_id, contact_id
);

CREATE OR REPLACE VIEW scoring.cash_forecast AS
SELECT as_of_date, tenant_id, count(*) AS open_invoices, sum(amount_due_base) AS open_amount_base,
       round(sum(paid_within_7d * amount_due_base), 2) AS expected_cash_7d_base,
       round(sum(paid_within_30d * amount_due_base), 2) AS expected_cash_30d_base,
       string_agg(DISTINCT model_version, ', ') AS model_versions
FROM scoring.invoice_risk_scores GROUP BY as_of_date, tenant_id;
"""
