"""The payment-risk model: what it is, and why it gave an invoice its probability.

Lateness: logistic regression on a spline basis of each numeric feature (a logistic GAM), plus one-hot
categorical columns. Each feature has its own shape, and its contribution to the log-odds is exact and
additive (the sum of its own basis terms), so ``explain`` can say, for one invoice, which features pushed
the probability up or down and by how much, relative to an average invoice of the training data.
Days to pay: gradient boosting with absolute error (the median), on the same features.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ar_radar.scoring.crm_signals import RECENT_DAYS, tone_word
from ar_radar.wording import count

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class ModelBundle:
    """One organisation's fitted models, saved as one joblib file (``registry`` records where)."""

    late: Pipeline
    days_to_pay: Pipeline
    numeric: list[str]
    categorical: list[str]
    # The explanations' reference: contributions are relative to an average training invoice.
    reference: pd.DataFrame
    # Out-of-window errors of the days-to-pay model (observed - predicted), sorted: the predicted date's interval.
    residuals: np.ndarray
    tenant_id: str | None = None

    @property
    def columns(self) -> list[str]:
        return self.numeric + self.categorical

    def save(self, path: Path) -> None:
        import joblib

        joblib.dump(self, path)

    @classmethod
    def load(cls, path: str | Path) -> ModelBundle:
        """A saved bundle; files written before the bundle was a dataclass hold a dict of the same fields."""
        import joblib

        loaded = joblib.load(path)
        if isinstance(loaded, dict):
            loaded = cls(**{f.name: loaded[f.name] for f in fields(cls) if f.name in loaded})
        return loaded


def late_model(numeric: list[str], categorical: list[str]) -> Pipeline:
    """Logistic regression on a spline basis of each numeric feature (a logistic GAM): each feature gets its
    own shape (a late-share of 0.9 is not nine times 0.1), and its contribution to the log-odds is still
    exact and additive, the sum of its own basis terms."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, SplineTransformer

    # One imputer and one spline transformer over every numeric column: each column still gets its own median
    # and knots, and its basis functions stay side by side (column by column), so contributions() can sum them
    # per feature; one transformer instead of one per column is a third of the fitting time.
    shape = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        SplineTransformer(n_knots=5, degree=3, knots="quantile", extrapolation="constant"),
    )
    parts = [("shape_numeric", shape, numeric)]
    parts.append(("missing", MissingIndicator(features="all", error_on_new=False), numeric))
    if categorical:
        # no infrequent-category grouping: one output column per category keeps contributions exact
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore"), categorical))
    return make_pipeline(ColumnTransformer(parts), LogisticRegression(C=0.5, max_iter=3000))


def days_to_pay_model(numeric: list[str], categorical: list[str]) -> Pipeline:
    """Gradient boosting on the same features, absolute error: the median days to pay."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    parts = [("num", "passthrough", numeric)]
    if categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), categorical))
    return make_pipeline(
        ColumnTransformer(parts),
        # 15 leaves, not 31: an organisation's own history is a few thousand invoices; the backtest's error is
        # the same (public-format CSV 4.76 vs 4.80 days, sandbox 10.3 vs 10.4) and the fit a third faster.
        HistGradientBoostingRegressor(loss="absolute_error", max_iter=100, max_leaf_nodes=15, random_state=0),
    )


def contributions(model: Pipeline, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Per invoice (row of frame) and feature: its signed contribution to the log-odds of being late,
    relative to its mean over ``reference`` (the training data). Their row sum plus
    ``baseline_log_odds(model, reference)`` is exactly the model's log-odds."""
    transformer, regression = model[0], model[-1]
    coef = regression.coef_[0]

    def by_feature(data: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for name, fitted, columns in transformer.transformers_:
            if name == "remainder" or fitted == "drop":
                continue
            block = fitted.transform(data[columns])
            block = block.toarray() if hasattr(block, "toarray") else np.asarray(block, dtype=float)
            weights = coef[transformer.output_indices_[name]]
            if name.startswith("shape_") or name == "missing":
                # one output column per feature for "missing"; a spline basis per feature otherwise
                per_column = np.split(np.arange(block.shape[1]), len(columns))
                for column, idx in zip(columns, per_column, strict=True):
                    out[column] = out.get(column, 0) + block[:, idx] @ weights[idx]
            else:  # one-hot: each categorical column's own block of output columns
                sizes = [len(c) for c in fitted.categories_]
                start = 0
                for column, size in zip(columns, sizes, strict=True):
                    idx = np.arange(start, start + size)
                    out[column] = out.get(column, 0) + block[:, idx] @ weights[idx] if size else 0
                    start += size
        return pd.DataFrame(out, index=data.index)

    return by_feature(frame) - by_feature(reference).mean()


def baseline_log_odds(model: Pipeline, reference: pd.DataFrame) -> float:
    """The log-odds of an average invoice of the reference data (the intercept the contributions add to)."""
    full = model.decision_function(reference.iloc[:1])[0]
    return float(full - contributions(model, reference.iloc[:1], reference).sum(axis=1).iloc[0])


def describe(feature: str, row: dict) -> str:
    """A feature's value for one invoice, in words a finance team reads (features: dbt's feature mart)."""
    value = row.get(feature)
    missing = value is None or pd.isna(value)
    days = RECENT_DAYS
    if feature == "share_paid_late":
        paid = row.get("paid_invoice_count") or 0
        if missing or not paid:
            return "No paid invoices on record yet"
        return f"Paid {value * paid:.0f} of {count(paid, 'past invoice')} late"
    if missing and feature == "recent_crm_tone":
        return f"No CRM notes or tickets in the {days} days before"
    if missing:
        return f"No {feature.replace('_', ' ')} on record"
    words = {
        "prior_invoice_count": lambda v: f"{count(v, 'earlier invoice')} to this customer",
        "paid_invoice_count": lambda v: f"{count(v, 'invoice')} paid before this one",
        "avg_days_late": lambda v: (
            f"Pays on average {count(v, 'day')} after due" if v >= 0.5 else "Pays on time on average"
        ),
        "recent_avg_days_late": lambda v: f"Last 3 payments averaged {count(v, 'day')} late",
        "days_late_trend": lambda v: (
            f"Lately paying {count(abs(v), 'day')} {'slower' if v >= 0 else 'faster'} than usual"
        ),
        "amount_weighted_days_late": lambda v: f"Weighted by amount, pays {count(v, 'day')} late",
        "avg_days_to_pay": lambda v: f"Takes {count(v, 'day')} to pay on average",
        "days_since_last_payment": lambda v: f"Last payment {count(v, 'day')} before this invoice",
        "share_paid_in_instalments": lambda v: f"Paid {100 * v:.0f}% of past invoices in instalments",
        "unpaid_invoice_count": lambda v: f"{count(v, 'other invoice')} unpaid when this one was issued",
        "overdue_invoice_count": lambda v: f"{count(v, 'invoice')} overdue when this one was issued",
        "credit_note_count": lambda v: f"{count(v, 'credit note')} so far",
        "credited_share_of_invoiced": lambda v: f"{100 * v:.0f}% of the amount invoiced was credited",
        "amount_vs_customer_average": lambda v: f"Amount {v:.1f}x the customer's average invoice",
        "amount_base": lambda v: f"Invoice amount {v:,.0f}",
        "terms_days": lambda v: f"{v:.0f}-day payment terms",
        "disputed": lambda v: "Disputed" if v else "Not disputed",
        "recent_crm_tone": lambda v: f"CRM notes and tickets read {tone_word(v)} ({v:+.2f}, last {days} days)",
        "recent_crm_text_count": lambda v: f"{count(v, 'CRM note')} or ticket(s) in the {days} days before",
        "recent_negative_text_count": lambda v: f"{count(v, 'negative CRM note')} or ticket(s) ({days} days)",
        "recent_dispute_text_count": lambda v: f"{count(v, 'CRM note')} or ticket(s) using dispute words",
        "open_ticket_count": lambda v: f"{count(v, 'open HubSpot ticket')} when issued",
        "dispute_ticket_count": lambda v: f"{count(v, 'dispute ticket')} raised before",
        "open_dispute_count": lambda v: f"{count(v, 'open dispute ticket')} when issued",
        "recent_deal_count": lambda v: f"{count(v, 'HubSpot deal')} in the {days} days before",
        "won_deal_count": lambda v: f"{count(v, 'HubSpot deal')} won before",
    }
    if feature in words:
        return words[feature](float(value))
    return f"{feature.replace('_', ' ').capitalize()}: {value}"


def top_factors(parts: pd.DataFrame, rows: pd.DataFrame, n: int = 3) -> list[list[dict]]:
    """Per invoice, the n features that moved its log-odds most, in words with their signed weights.

    parts: contributions() for the invoices; rows: the same invoices' feature values (same order).
    """
    values = parts.to_numpy()
    order = np.argsort(-np.abs(values), axis=1)[:, :n]
    names = parts.columns.to_numpy()
    records = rows.to_dict("records")
    return [
        [
            {"factor": names[j], "label": describe(names[j], record), "weight": round(float(values[i, j]), 2)}
            for j in order[i]
        ]
        for i, record in enumerate(records)
    ]
