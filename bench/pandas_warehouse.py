"""The aging and the point-in-time payment-history features, written the way an analyst would in pandas.

Reads the same raw tables as dbt (JSON payloads, latest version of each record), parses them with
``json.loads`` and computes, with vectorised pandas (groupby, cumsum, merge_asof; no Python loops
over rows): fct_ar_aging (days overdue, standard and collections buckets from the seed CSV, base
amounts) and the Xero payment-history features of invoice_features_history and
customer_risk_features. It is the benchmark's comparison point, and tests/bench checks it gives the
same numbers as the dbt models on a small dataset, so the comparison is like for like.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

SEED = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "aging_buckets.csv"


def _xero_ms(series: pd.Series) -> pd.Series:
    """/Date(1771027200000+0000)/ -> datetime64 (UTC date)."""
    millis = series.str.extract(r"/Date\((-?\d+)", expand=False).astype("float64")
    return pd.to_datetime(millis, unit="ms").dt.normalize().astype("datetime64[us]")


def _xero_date(frame: pd.DataFrame, field: str) -> pd.Series:
    string = frame.get(f"{field}String")
    parsed = _xero_ms(frame[field]) if field in frame else pd.Series(pd.NaT, index=frame.index)
    if string is not None:
        parsed = pd.to_datetime(string.str.slice(0, 10), errors="coerce").astype("datetime64[us]").fillna(parsed)
    return parsed.astype("datetime64[us]")


def load(db_path: Path) -> dict[str, pd.DataFrame]:
    """Latest version of every Xero record, parsed from JSON into flat frames."""
    with duckdb.connect(str(db_path), read_only=True) as con:

        def payloads(table: str) -> list[dict]:
            rows = con.execute(f"select tenant_id, payload from raw.{table}_current").fetchall()
            return [{**json.loads(p), "_tenant": t} for t, p in rows]

        invoices = pd.DataFrame(
            [
                {
                    "tenant_id": p["_tenant"],
                    "invoice_id": p.get("InvoiceID"),
                    "contact_id": (p.get("Contact") or {}).get("ContactID"),
                    "type": p.get("Type"),
                    "status": (p.get("Status") or "").upper(),
                    "Date": p.get("Date"),
                    "DateString": p.get("DateString"),
                    "DueDate": p.get("DueDate"),
                    "DueDateString": p.get("DueDateString"),
                    "FullyPaidOnDate": p.get("FullyPaidOnDate"),
                    "currency_rate": float(p.get("CurrencyRate") or 1),
                    "total": float(p["Total"]),
                    "amount_due": float(p["AmountDue"]),
                    "amount_paid": float(p.get("AmountPaid") or 0),
                }
                for p in payloads("xero_invoices")
            ]
        )
        payments = pd.DataFrame(
            [
                {
                    "tenant_id": p["_tenant"],
                    "invoice_id": (p.get("Invoice") or {}).get("InvoiceID"),
                    "status": (p.get("Status") or "").upper(),
                    "Date": p.get("Date"),
                    "amount": float(p["Amount"]),
                }
                for p in payloads("xero_payments")
            ]
        )
        notes = pd.DataFrame(
            [
                {
                    "tenant_id": p["_tenant"],
                    "contact_id": (p.get("Contact") or {}).get("ContactID"),
                    "type": p.get("Type"),
                    "status": (p.get("Status") or "").upper(),
                    "Date": p.get("Date"),
                    "DateString": p.get("DateString"),
                    "total": float(p.get("Total") or 0),
                    "currency_rate": float(p.get("CurrencyRate") or 1),
                    "allocations": p.get("Allocations") or [],
                }
                for p in payloads("xero_credit_notes")
            ]
        )
    invoices["invoice_date"] = _xero_date(invoices, "Date")
    invoices["due_date"] = _xero_date(invoices, "DueDate")
    invoices["fully_paid_on_date"] = _xero_ms(invoices["FullyPaidOnDate"].astype("string"))
    payments["payment_date"] = _xero_ms(payments["Date"])
    notes["credit_note_date"] = _xero_date(notes, "Date")
    return {"invoices": invoices, "payments": payments, "credit_notes": notes}


def aging(invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """fct_ar_aging: open sales invoices with days overdue and both bucket schemes."""
    sales = invoices[(invoices["type"] == "ACCREC") & invoices["status"].isin(["AUTHORISED", "PAID"])]
    open_ = sales[(sales["status"] == "AUTHORISED") & (sales["amount_due"] > 0)].copy()
    open_["days_overdue"] = (pd.Timestamp(as_of) - open_["due_date"]).dt.days
    open_["amount_due_base"] = (open_["amount_due"] / open_["currency_rate"]).round(2)
    buckets = pd.read_csv(SEED)
    for scheme, column in (("standard", "aging_bucket"), ("collections", "collections_bucket")):
        edges = buckets[buckets["scheme"] == scheme].sort_values("min_days_overdue")
        bins = [*(edges["min_days_overdue"] - 0.5), edges["max_days_overdue"].iloc[-1] + 0.5]
        open_[column] = pd.cut(open_["days_overdue"], bins=bins, labels=list(edges["bucket"]), ordered=False)
    return open_


def customer_daily_history(frames: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """int_customer_daily_history (Xero activity): running totals per customer per activity day, and the
    customer's payment days (for days since the last payment)."""
    inv = frames["invoices"]
    sales = inv[(inv["type"] == "ACCREC") & inv["status"].isin(["AUTHORISED", "PAID"])].copy()
    sales["total_base"] = sales["total"] / sales["currency_rate"]
    sales["days_paid_late"] = (sales["fully_paid_on_date"] - sales["due_date"]).dt.days
    payments = frames["payments"]
    payments = payments[payments["status"] != "DELETED"].merge(
        sales[["tenant_id", "invoice_id", "contact_id"]], on=["tenant_id", "invoice_id"]
    )
    key = ["tenant_id", "contact_id", "activity_date"]

    issued = (
        sales.rename(columns={"invoice_date": "activity_date"})
        .groupby(key)
        .agg(invoices_issued=("invoice_id", "size"), amount_issued_base=("total_base", "sum"))
    )
    unpaid_at_due = sales["fully_paid_on_date"].isna() | (sales["fully_paid_on_date"] > sales["due_date"])
    overdue = (
        sales[unpaid_at_due]
        .rename(columns={"due_date": "activity_date"})
        .groupby(key)
        .agg(invoices_fell_overdue=("invoice_id", "size"))
    )
    counts = payments.groupby(["tenant_id", "invoice_id"]).size().rename("payment_count")
    paid = sales[sales["fully_paid_on_date"].notna()].join(counts, on=["tenant_id", "invoice_id"])
    paid["days_late"] = paid["days_paid_late"].clip(lower=0)
    paid["late"] = paid["days_late"] > 0
    paid["instalments"] = paid["payment_count"].fillna(0) > 1
    paid["weighted"] = paid["total_base"] * paid["days_late"]
    paid = paid.sort_values(["tenant_id", "contact_id", "fully_paid_on_date", "invoice_id"])
    paid["recent_avg_days_late"] = (
        paid.groupby(["tenant_id", "contact_id"])["days_late"].rolling(3, min_periods=1).mean().to_numpy()
    )
    paid = paid.rename(columns={"fully_paid_on_date": "activity_date"})
    paid_daily = paid.groupby(key).agg(
        invoices_paid=("invoice_id", "size"),
        invoices_paid_late=("late", "sum"),
        days_late_sum=("days_late", "sum"),
        amount_paid_invoices_base=("total_base", "sum"),
        amount_days_late_sum=("weighted", "sum"),
        invoices_paid_in_instalments=("instalments", "sum"),
        recent_avg_days_late=("recent_avg_days_late", "last"),
    )
    cn = frames["credit_notes"]
    cn = cn[(cn["type"] == "ACCRECCREDIT") & ~cn["status"].isin(["VOIDED", "DELETED", "DRAFT", "SUBMITTED"])]
    credit_daily = (
        cn.assign(amount_base=cn["total"] / cn["currency_rate"])
        .rename(columns={"credit_note_date": "activity_date"})
        .groupby(key)
        .agg(credit_notes_issued=("type", "size"), credit_note_amount_base=("amount_base", "sum"))
    )
    daily = pd.concat([issued, overdue, paid_daily, credit_daily], axis=1).sort_index()
    recent = daily.pop("recent_avg_days_late")
    daily = daily.fillna(0)
    groups = daily.groupby(level=["tenant_id", "contact_id"])
    history = groups.cumsum()
    history["recent_avg_days_late"] = recent.groupby(level=["tenant_id", "contact_id"]).ffill()
    return history.reset_index(), payments[["tenant_id", "contact_id", "payment_date"]].drop_duplicates()


def history_as_of(
    spine: pd.DataFrame, date_column: str, history: pd.DataFrame, payment_days: pd.DataFrame
) -> pd.DataFrame:
    """customer_history_as_of: the last history row and payment day strictly before each spine row's date."""
    by = ["tenant_id", "contact_id"]
    left = spine.sort_values(date_column)
    h = pd.merge_asof(
        left,
        history.sort_values("activity_date"),
        left_on=date_column,
        right_on="activity_date",
        by=by,
        allow_exact_matches=False,
    )
    h = pd.merge_asof(
        h,
        payment_days.sort_values("payment_date"),
        left_on=date_column,
        right_on="payment_date",
        by=by,
        allow_exact_matches=False,
    )
    out = h[[*spine.columns]].copy()
    paid = h["invoices_paid"].replace(0, np.nan)
    out["prior_invoice_count"] = h["invoices_issued"].fillna(0).astype("int64")
    out["paid_invoice_count"] = h["invoices_paid"].fillna(0).astype("int64")
    out["paid_late_count"] = h["invoices_paid_late"].fillna(0).astype("int64")
    out["share_paid_late"] = (h["invoices_paid_late"] / paid).round(4)
    out["avg_days_late"] = (h["days_late_sum"] / paid).round(2)
    out["recent_avg_days_late"] = h["recent_avg_days_late"].round(2)
    out["amount_weighted_days_late"] = (
        h["amount_days_late_sum"] / h["amount_paid_invoices_base"].replace(0, np.nan)
    ).round(2)
    out["days_since_last_payment"] = (h[date_column] - h["payment_date"]).dt.days
    out["share_paid_in_instalments"] = (h["invoices_paid_in_instalments"] / paid).round(4)
    out["unpaid_invoice_count"] = (h["invoices_issued"] - h["invoices_paid"]).fillna(0).astype("int64")
    out["overdue_invoice_count"] = (h["invoices_fell_overdue"] - h["invoices_paid_late"]).fillna(0).astype("int64")
    out["credit_note_count"] = h["credit_notes_issued"].fillna(0).astype("int64")
    return out


def build(db_path: Path, as_of: date) -> dict[str, pd.DataFrame]:
    """Everything the benchmark times: load, aging, invoice features history, customer features today."""
    frames = load(db_path)
    aged = aging(frames["invoices"], as_of)
    history, payment_days = customer_daily_history(frames)
    inv = frames["invoices"]
    sales = inv[(inv["type"] == "ACCREC") & inv["status"].isin(["AUTHORISED", "PAID"])]
    sales = sales[sales["invoice_date"] <= pd.Timestamp(as_of)]
    invoice_features = history_as_of(
        sales[["tenant_id", "contact_id", "invoice_id", "invoice_date"]], "invoice_date", history, payment_days
    )
    customers = sales[["tenant_id", "contact_id"]].drop_duplicates()
    customers["as_of_date"] = pd.Series(pd.Timestamp(as_of), index=customers.index).astype("datetime64[us]")
    customer_features = history_as_of(customers, "as_of_date", history, payment_days)
    return {"aging": aged, "invoice_features": invoice_features, "customer_features": customer_features}
