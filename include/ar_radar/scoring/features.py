"""Point-in-time payment-history features from any invoice history (the backtest's CSV input).

Every feature of an invoice is computed from what was known at the start of its issue date: payments
made strictly before it and invoices issued strictly before it. ``merge_asof`` with
``allow_exact_matches=False`` is what enforces that (the same rule as the warehouse's
``customer_history_as_of`` macro).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ar_radar.scoring import crm_signals

REQUIRED = ("customer_id", "invoice_id", "invoice_date", "due_date", "amount", "paid_date")
OPTIONAL = ("disputed", "currency", "billing_channel", "country")
# Columns that give the outcome away: refused, not silently dropped, so nobody believes a leaky score.
LEAKAGE = (
    "days_to_pay",
    "days_late",
    "late",
    "is_late",
    "paid_late",
    "paid_on_time",
    "status",
    "payment_status",
    "amount_paid",
    "amount_due",
    "outstanding",
    "outstanding_amount",
    "settled_date",
    "cleared_date",
)
HISTORY_FEATURES = (
    "prior_paid",
    "prior_late_share",
    "prior_avg_days_late",
    "last3_avg_days_late",
    "prior_avg_days_to_pay",
    "days_since_last_payment",
    "open_at_issue",
    "amount_vs_customer_avg",
    "log_amount",
    "terms_days",
)


class HistoryFormatError(ValueError):
    """The invoice history cannot be used; the message says which column or rows and what to do."""


def read_history(path: str) -> tuple[pd.DataFrame, list[str]]:
    """The CSV as typed columns, plus the optional columns it has. Raises HistoryFormatError."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.columns = [c.strip().lower() for c in frame.columns]
    leaky = [c for c in frame.columns if c in LEAKAGE]
    if leaky:
        raise HistoryFormatError(
            f"{path}: column(s) {', '.join(leaky)} give the payment outcome away (leakage); remove them. "
            f"Accepted columns: {', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL)}."
        )
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise HistoryFormatError(f"{path}: missing required column(s) {', '.join(missing)}")
    typed = pd.DataFrame({"customer_id": frame["customer_id"], "invoice_id": frame["invoice_id"]})
    for column in ("invoice_date", "due_date", "paid_date"):
        values = frame[column].str.strip()
        parsed = pd.to_datetime(values, errors="coerce", format="ISO8601")
        bad = values.ne("") & parsed.isna()
        if column != "paid_date":
            bad |= values.eq("")
        if bad.any():
            rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad)[:5])
            raise HistoryFormatError(f"{path}: {column} is not a YYYY-MM-DD date on line(s) {rows}")
        typed[column] = parsed.dt.normalize()
    amount = pd.to_numeric(frame["amount"], errors="coerce")
    if amount.isna().any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(amount.isna())[:5])
        raise HistoryFormatError(f"{path}: amount is not a number on line(s) {rows}")
    typed["amount"] = amount
    optional = [c for c in OPTIONAL if c in frame.columns]
    for column in optional:
        if column == "disputed":
            typed[column] = (
                frame[column].str.strip().str.lower().isin(("1", "1.0", "true", "yes", "y", "t")).astype(float)
            )
        else:
            typed[column] = frame[column].str.strip().replace("", "unknown")
    if typed["invoice_id"].duplicated().any():
        raise HistoryFormatError(f"{path}: invoice_id repeats; each invoice must appear once")
    return typed, optional


def warehouse_history(db_path: str) -> tuple[pd.DataFrame, list[str]]:
    """The warehouse's sales invoices (marts.invoice_features_history) in read_history's shape, plus tenant_id
    and each invoice's CRM signals (crm_signals.CRM_FEATURES, as known at issue).

    Customers and invoices are prefixed with their organisation (ids are only unique within one);
    amounts are in the base currency; disputed = a dispute ticket was ever raised on the invoice.
    """
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        frame = con.sql(
            """select tenant_id, tenant_id || ':' || contact_id as customer_id,
                      tenant_id || ':' || invoice_id as invoice_id, invoice_date, due_date,
                      cast(amount_base as double) as amount, label_paid_on as paid_date,
                      cast(label_disputed as double) as disputed, coalesce(currency_code, 'unknown') as currency
               from marts.invoice_features_history order by invoice_date, invoice_id"""
        ).df()
    for column in ("invoice_date", "due_date", "paid_date"):
        frame[column] = pd.to_datetime(frame[column])
    frame = pd.concat([frame, crm_signals.signals(frame, crm_signals.warehouse_events(db_path))], axis=1)
    return frame, ["disputed", "currency", *crm_signals.CRM_FEATURES]


def with_outcomes(history: pd.DataFrame, grace_days: int = 0) -> pd.DataFrame:
    """Adds days_to_pay, days_late and late (paid more than grace_days after due) for paid invoices."""
    out = history.copy()
    out["days_to_pay"] = (out["paid_date"] - out["invoice_date"]).dt.days
    out["days_late"] = (out["paid_date"] - out["due_date"]).dt.days
    out["late"] = (out["days_late"] > grace_days).astype(float).where(out["paid_date"].notna())
    return out


def history_features(history: pd.DataFrame, grace_days: int = 0) -> pd.DataFrame:
    """One row per invoice (same order): the customer's payment history as of the invoice date."""
    data = with_outcomes(history, grace_days).reset_index(drop=True)
    data["_row"] = np.arange(len(data))
    paid = data[data["paid_date"].notna()].sort_values(["paid_date", "_row"])
    grouped = paid.groupby("customer_id", sort=False)
    paid = paid.assign(
        c_paid=grouped.cumcount() + 1,
        c_late=grouped["late"].cumsum(),
        c_days_late=grouped["days_late"].cumsum(),
        c_days_to_pay=grouped["days_to_pay"].cumsum(),
        c_last3=grouped["days_late"].rolling(3, min_periods=1).mean().reset_index(level=0, drop=True),
    )
    events = paid[["customer_id", "paid_date", "c_paid", "c_late", "c_days_late", "c_days_to_pay", "c_last3"]]
    issued = data.sort_values(["invoice_date", "_row"])
    by_issue = issued.groupby("customer_id", sort=False)
    issued = issued.assign(c_issued=by_issue.cumcount() + 1, c_amount=by_issue["amount"].cumsum())
    issue_events = issued[["customer_id", "invoice_date", "c_issued", "c_amount"]].rename(
        columns={"invoice_date": "issued_on"}
    )

    left = data[["_row", "customer_id", "invoice_date", "due_date", "amount"]].sort_values("invoice_date")
    merged = pd.merge_asof(
        left,
        events.rename(columns={"paid_date": "last_paid"}),
        left_on="invoice_date",
        right_on="last_paid",
        by="customer_id",
        allow_exact_matches=False,  # a payment made on the issue date is not known at its start
    )
    merged = pd.merge_asof(
        merged.sort_values("invoice_date"),
        issue_events,
        left_on="invoice_date",
        right_on="issued_on",
        by="customer_id",
        allow_exact_matches=False,
    ).sort_values("_row")
    prior_paid = merged["c_paid"].fillna(0)
    features = pd.DataFrame(index=merged.index)
    features["prior_paid"] = prior_paid
    with np.errstate(divide="ignore", invalid="ignore"):
        features["prior_late_share"] = merged["c_late"] / prior_paid
        features["prior_avg_days_late"] = merged["c_days_late"] / prior_paid
        features["prior_avg_days_to_pay"] = merged["c_days_to_pay"] / prior_paid
        avg_amount = merged["c_amount"] / merged["c_issued"]
        features["amount_vs_customer_avg"] = merged["amount"] / avg_amount
    features["last3_avg_days_late"] = merged["c_last3"]
    features["days_since_last_payment"] = (merged["invoice_date"] - merged["last_paid"]).dt.days
    features["open_at_issue"] = (merged["c_issued"].fillna(0) - prior_paid).clip(lower=0)
    features["log_amount"] = np.log1p(merged["amount"].clip(lower=0))
    features["terms_days"] = (merged["due_date"] - merged["invoice_date"]).dt.days
    return features.reset_index(drop=True)
