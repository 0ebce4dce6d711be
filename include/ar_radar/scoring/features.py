"""The model's inputs: columns of dbt's feature mart, read as they are.

dbt defines every feature once (macro ``customer_history_as_of``): ``marts.invoice_features_history`` holds
each invoice's customer history as known at the start of its issue day, for training, the backtest and the
open invoices' scores alike; ``marts.customer_risk_features`` holds the same features as of today, for the
rules prior. Nothing here computes a feature: it names the columns the model reads and reads them.

Every input is what was known when the invoice was issued (the score is a score at issue): a dispute raised
later, a payment made later, a note logged later are never inputs. The action queue, not the score, reacts
to what happened since (an open dispute holds the invoice; days overdue drive the action and the predicted
date is conditioned on the invoice being unpaid today).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ar_radar import database

# Which feature set a model was trained on: a model of another set cannot read today's features, so
# ``registry.choose`` passes it by and the next training run replaces it. Raise it when the inputs change.
FEATURE_SET = 2  # 1: the pandas features before dbt owned them
# From Xero: the customer's payment history and the invoice's own terms.
ACCOUNTING_FEATURES = (
    "prior_invoice_count",
    "paid_invoice_count",
    "share_paid_late",
    "avg_days_late",
    "recent_avg_days_late",
    "days_late_trend",
    "amount_weighted_days_late",
    "avg_days_to_pay",
    "days_since_last_payment",
    "share_paid_in_instalments",
    "unpaid_invoice_count",
    "overdue_invoice_count",
    "credit_note_count",
    "credited_share_of_invoiced",
    "amount_vs_customer_average",
    "amount_base",
    "terms_days",
)
# From HubSpot, via the customer's matched company: kept in a model only where its backtest shows they help.
# What was said recently and what is open at issue; the mart's all-time counts (dispute tickets ever, deals won
# ever, texts logged) grow with how long a customer has been one, and are left to the prior and the reviewer.
CRM_FEATURES = (
    "recent_crm_tone",
    "recent_negative_text_count",
    "recent_dispute_text_count",
    "open_ticket_count",
    "open_dispute_count",
    "recent_deal_count",
)
CATEGORICAL = ("currency_code", "currency", "billing_channel", "country")

_MART_COLUMNS = ", ".join(ACCOUNTING_FEATURES + CRM_FEATURES)
HISTORY_QUERY = f"""
    select tenant_id, tenant_id || ':' || contact_id as customer_id, tenant_id || ':' || invoice_id as invoice_id,
           invoice_date, due_date, cast(amount_base as double) as amount, label_paid_on as paid_date,
           coalesce(currency_code, 'unknown') as currency_code, {_MART_COLUMNS}
    from marts.invoice_features_history
    where (? is null or tenant_id = ?)
    order by invoice_date, invoice_id
"""


def warehouse_history(db_path: Path, tenant_id: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Every sales invoice of ``marts.invoice_features_history`` (of one organisation, or all) with its features
    and outcome, plus the inputs beyond the accounting features (currency and the CRM features).

    Customers and invoices are prefixed with their organisation (ids are unique only within one); amounts are
    in the base currency; ``paid_date`` is the day the invoice was fully paid, as known on the mart's date."""
    with database.connect(db_path, read_only=True) as con:
        frame = database.frame(con, HISTORY_QUERY, [tenant_id, tenant_id])
    return typed(frame), ["currency_code", *CRM_FEATURES]


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as timestamps and every feature as a float (NaN where the mart has null: no history yet)."""
    for column in ("invoice_date", "due_date", "paid_date"):
        frame[column] = pd.to_datetime(frame[column])
    numeric = [c for c in ACCOUNTING_FEATURES + CRM_FEATURES if c in frame.columns]
    frame[numeric] = frame[numeric].astype("float64")
    return frame


def with_outcomes(history: pd.DataFrame, grace_days: int = 0) -> pd.DataFrame:
    """Adds days_to_pay, days_late and late (paid more than grace_days after due) for paid invoices."""
    out = history.copy()
    out["days_to_pay"] = (out["paid_date"] - out["invoice_date"]).dt.days
    out["days_late"] = (out["paid_date"] - out["due_date"]).dt.days
    out["late"] = (out["days_late"] > grace_days).astype(float).where(out["paid_date"].notna())
    return out
