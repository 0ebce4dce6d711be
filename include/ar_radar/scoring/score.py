"""Every open invoice's payment-risk score, with its reasons, predicted payment date and model version.

An organisation with a trained model (``registry.choose``: its own invoices, weekly) is scored by it: the
probability that the invoice is paid more than the grace days after its due date, from what was known when it
was issued (its row of dbt's ``marts.invoice_features_history``: the very row the model was trained and
backtested on), the three features that moved it most with their signed log-odds weights
(``model.top_factors``), and a predicted payment date whose interval comes from the model's out-of-window
errors, conditioned on the invoice still being unpaid today (``payment_timing``). An organisation without a
model yet (cold start), or an invoice without a customer, is scored by the ``prior`` (rules-v1).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ar_radar import database
from ar_radar.scoring import backtest, registry
from ar_radar.scoring.bands import band
from ar_radar.scoring.features import warehouse_history, with_outcomes
from ar_radar.scoring.model import ModelBundle, contributions, top_factors
from ar_radar.scoring.payment_timing import HORIZONS, payment_timing
from ar_radar.scoring.prior import score_by_prior
from ar_radar.scoring.store import store_scores
from ar_radar.threads import bounded


def score_with_model(rows: pd.DataFrame, features: pd.DataFrame, bundle: ModelBundle, as_of: date) -> pd.DataFrame:
    """Score open invoices (rows of fct_ar_aging) with a trained model; features: the same invoices' rows of
    marts.invoice_features_history (same order)."""
    x = features[bundle.columns].reset_index(drop=True)
    with bounded():
        probability = bundle.late.predict_proba(x)[:, 1]
        factors = top_factors(contributions(bundle.late, x, bundle.reference), features.reset_index(drop=True))
        predicted_days = bundle.days_to_pay.predict(x)
    issued = pd.to_datetime(rows["invoice_date"]).reset_index(drop=True)
    age = (pd.Timestamp(as_of) - issued).dt.days.to_numpy()
    timing = payment_timing(predicted_days, age, bundle.residuals)

    def dates(days: np.ndarray) -> list[date]:
        return list((issued + pd.to_timedelta(np.round(days), unit="D")).dt.date)

    return rows.reset_index(drop=True).assign(
        risk_probability=np.round(probability, 4),
        risk_band=[band(p) for p in probability],
        top_factors=[json.dumps(f) for f in factors],
        predicted_payment_date=dates(timing["median"]),
        predicted_payment_earliest=dates(timing["earliest"]),
        predicted_payment_latest=dates(timing["latest"]),
        **{f"paid_within_{h}d": np.round(timing[f"within_{h}"], 4) for h in HORIZONS},
    )


def _model_note(record: registry.ModelRecord) -> str:
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
    rules-v1 prior when it has none yet (cold start) or an invoice has no row in the feature mart (no customer)."""
    history, _ = warehouse_history(db_path)
    features = history.set_index("invoice_id")
    frame = frame.reset_index(drop=True)
    keys = frame["tenant_id"] + ":" + frame["invoice_id"]
    parts = []
    for tenant_id, rows in frame.groupby("tenant_id", sort=True):
        record = registry.choose(db_path, tenant_id, as_of)
        has_features = keys[rows.index].isin(features.index).to_numpy()
        if record is not None:
            modelled = rows[has_features]
            bundle = ModelBundle.load(record.path)
            scored = score_with_model(modelled, features.loc[keys[modelled.index]], bundle, as_of)
            parts.append(scored.assign(model_version=record.version, model_note=_model_note(record)))
            rows = rows[~has_features]
            note = "No customer history for this invoice (no contact on it); scored by the rules-v1 prior"
        else:
            note = _cold_start_note(history[history["tenant_id"] == tenant_id], as_of)
        if len(rows):
            parts.append(score_by_prior(rows, as_of).assign(model_note=note))
    if not parts:
        return score_by_prior(frame, as_of).assign(model_note="")
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
    with database.connect(db_path, read_only=True) as con:
        frame = database.frame(con, SCORE_INPUT)
    for column in ("invoice_date", "due_date", "as_of_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    scored = score_all(db_path, frame, as_of)
    store_scores(db_path, scored, as_of)
    return scored
