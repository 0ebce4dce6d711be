"""Backtest the payment-risk model on any invoice history, with rolling time-based splits.

For each of ``folds`` consecutive test windows (the later half of the history, cut at equal numbers of
invoices), the models (ar_radar.scoring.model) are trained only on what was known when the window opened
(invoices paid before it, or unpaid and already past due) and score the paid invoices issued inside it;
every feature comes from the customer's past (dbt's invoice_features_history, ar_radar.scoring.features).
Predictions of all windows are
pooled and scored against two baselines: "always on time" and "the customer's own past average".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ar_radar.scoring.features import ACCOUNTING_FEATURES, CATEGORICAL, with_outcomes
from ar_radar.scoring.model import days_to_pay_model, late_model
from ar_radar.threads import bounded

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

MIN_TRAINING_ROWS = 200
# The days-to-pay model learns from invoices paid at least this long before the cutoff, so slow payers are
# not missing from its most recent months.
SETTLED_AFTER_DAYS = 90


@dataclass(frozen=True)
class Predictions:
    late: np.ndarray  # observed outcome (1 = paid after due + grace)
    probability: np.ndarray
    days_to_pay: np.ndarray  # observed
    predicted_days: np.ndarray


def _window_edges(issue_dates: pd.Series, folds: int) -> list[pd.Timestamp]:
    """folds + 1 cut dates splitting the later half of the invoices into equal-sized test windows."""
    quantiles = np.linspace(0.5, 1.0, folds + 1)
    edges = list(issue_dates.quantile(quantiles, interpolation="nearest"))
    edges[-1] = edges[-1] + pd.Timedelta(days=1)
    return edges


def known_at(data: pd.DataFrame, cutoff: pd.Timestamp, grace_days: int) -> pd.DataFrame:
    """Invoices issued before cutoff whose lateness was known then, labelled as known then (late_then).

    Paid invoices alone would bias training: of the invoices issued just before the cutoff only the quickly
    paid are paid yet. An unpaid invoice already past due + grace at the cutoff is known to be late.
    """
    issued = data[data["invoice_date"] < cutoff]
    paid_then = issued["paid_date"] < cutoff
    overdue_then = cutoff > issued["due_date"] + pd.Timedelta(days=grace_days)
    label = issued["late"].where(paid_then, np.where(overdue_then, 1.0, np.nan))
    return issued.assign(late_then=label)[label.notna()]


def feature_columns(optional: list[str]) -> tuple[list[str], list[str]]:
    """The model's numeric and categorical inputs, given the optional columns a history has."""
    return (
        list(ACCOUNTING_FEATURES) + [c for c in optional if c not in CATEGORICAL],
        [c for c in optional if c in CATEGORICAL],
    )


def fit(known: pd.DataFrame, cutoff: pd.Timestamp, optional: list[str]) -> tuple[Pipeline, Pipeline]:
    """The lateness and days-to-pay models, trained on known_at(data, cutoff, ...).

    The days-to-pay model learns only from invoices settled SETTLED_AFTER_DAYS before the cutoff.
    """
    numeric, categorical = feature_columns(optional)
    columns = numeric + categorical
    settled = known[known["paid_date"] < cutoff - pd.Timedelta(days=SETTLED_AFTER_DAYS)]
    with bounded():
        classifier = late_model(numeric, categorical).fit(known[columns], known["late_then"])
        regressor = days_to_pay_model(numeric, categorical).fit(settled[columns], settled["days_to_pay"])
    return classifier, regressor


def predict(history: pd.DataFrame, columns: list[str], folds: int = 5, grace_days: int = 0) -> dict[str, Predictions]:
    """Pooled test-window predictions of the model (with `columns` of the optional ones) and baselines.
    history: invoices with their features (features.warehouse_history or history_csv.csv_features)."""
    return predict_on(with_outcomes(history, grace_days), columns, folds, grace_days)


def predict_on(data: pd.DataFrame, columns: list[str], folds: int = 5, grace_days: int = 0) -> dict[str, Predictions]:
    """predict() on a history that already has its outcomes (features.with_outcomes)."""
    numeric, categorical = feature_columns(columns)
    paid = data[data["paid_date"].notna()]
    edges = _window_edges(paid["invoice_date"], folds)
    pooled: dict[str, list] = {"model": [], "always_on_time": [], "customer_past_average": []}
    for start, end in zip(edges[:-1], edges[1:], strict=True):
        train = known_at(data, start, grace_days)
        test = paid[(paid["invoice_date"] >= start) & (paid["invoice_date"] < end)]
        if len(train) < MIN_TRAINING_ROWS or train["late_then"].nunique() < 2 or test.empty:
            continue
        classifier, regressor = fit(train, start, columns)
        x = test[numeric + categorical]
        late_rate = train["late"].mean()
        mean_late = train["days_late"].mean()
        with bounded():
            pooled["model"].append((test, classifier.predict_proba(x)[:, 1], regressor.predict(x)))
        pooled["always_on_time"].append((test, np.zeros(len(test)), test["terms_days"].to_numpy(dtype=float)))
        pooled["customer_past_average"].append(
            (
                test,
                test["share_paid_late"].fillna(late_rate).to_numpy(),
                test["avg_days_to_pay"].fillna(test["terms_days"] + mean_late).to_numpy(dtype=float),
            )
        )
    if not pooled["model"]:
        raise ValueError(
            f"not enough paid history to backtest: each training window needs {MIN_TRAINING_ROWS}+ paid invoices "
            "with both late and on-time outcomes"
        )
    return {
        name: Predictions(
            late=np.concatenate([t["late"].to_numpy() for t, _, _ in parts]),
            probability=np.concatenate([p for _, p, _ in parts]),
            days_to_pay=np.concatenate([t["days_to_pay"].to_numpy(dtype=float) for t, _, _ in parts]),
            predicted_days=np.concatenate([d for _, _, d in parts]),
        )
        for name, parts in pooled.items()
    }


def calibration_table(late: np.ndarray, probability: np.ndarray, bins: int = 10) -> list[dict]:
    """Per probability decile: invoices, mean predicted probability, share actually late."""
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            rows.append(
                {
                    "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                    "invoices": int(mask.sum()),
                    "mean_predicted": round(float(probability[mask].mean()), 4),
                    "observed_late": round(float(late[mask].mean()), 4),
                }
            )
    return rows


def scores(p: Predictions) -> dict:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    constant = np.ptp(p.probability) == 0  # a constant score ranks nothing: AUC 0.5 by definition
    return {
        "roc_auc": 0.5 if constant else round(float(roc_auc_score(p.late, p.probability)), 4),
        "pr_auc": round(float(p.late.mean() if constant else average_precision_score(p.late, p.probability)), 4),
        "brier": round(float(brier_score_loss(p.late, p.probability)), 4),
        "mae_days": round(float(np.mean(np.abs(p.days_to_pay - p.predicted_days))), 2),
    }


def run_backtest(history: pd.DataFrame, optional: list[str], folds: int = 5, grace_days: int = 0) -> dict:
    """The report: the model with every optional column given, baselines, and one variant per column."""
    full = predict(history, optional, folds, grace_days)
    report = {
        **scores(full["model"]),
        "baselines": {name: scores(full[name]) for name in ("always_on_time", "customer_past_average")},
        "calibration": calibration_table(full["model"].late, full["model"].probability),
        "invoices_scored": int(len(full["model"].late)),
        "late_share": round(float(full["model"].late.mean()), 4),
        "folds": folds,
        "grace_days": grace_days,
        "optional_columns": optional,
        "variants": {},
    }
    if optional:
        report["variants"]["history only"] = scores(predict(history, [], folds, grace_days)["model"])
        for column in optional:
            others = [c for c in optional if c != column]
            report["variants"][f"without {column}"] = scores(predict(history, others, folds, grace_days)["model"])
    return report
