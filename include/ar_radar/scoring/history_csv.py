"""Any invoice history as a CSV, through the warehouse's own feature SQL: the backtest's input.

The CSV (one row per invoice: customer, invoice, dates, amount, paid date) is checked and typed here, then
written as Xero-shaped records (sales invoices, their payments, the customers) into a DuckDB file of its own
through the pipeline's raw layer, and the same dbt models that serve the daily run build
``marts.invoice_features_history`` from them. So a backtest on a CSV measures the features and model that
score real invoices. Optional columns the CSV may carry (disputed, currency, billing channel, country) are
inputs the user vouches for: they are joined to each invoice as given.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ar_radar import database
from ar_radar.extract.landing import write_batch
from ar_radar.extract.xero_dates import xero_date
from ar_radar.raw.store import load_landing
from ar_radar.scoring.features import HISTORY_QUERY, typed

# The CSV's ids are the user's own; the warehouse keys Xero records by GUIDs (macro xero_id), so each CSV id
# travels as a GUID derived from it (uuid5) and is given back as written.
_CSV_IDS = uuid.UUID("5f2c7d1e-3a64-4b8e-9a0c-6d1b2e4f8a10")
CSV_TENANT = str(uuid.uuid5(_CSV_IDS, "tenant"))


def _guid(kind: str, csv_id: str) -> str:
    return str(uuid.uuid5(_CSV_IDS, f"{kind}:{csv_id}"))


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


class HistoryFormatError(ValueError):
    """The invoice history cannot be used; the message says which column or rows and what to do."""


def read_history(path: str) -> tuple[pd.DataFrame, list[str]]:
    """The CSV as history columns, plus the optional columns it has. Raises HistoryFormatError."""
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
    history = pd.DataFrame({"customer_id": frame["customer_id"], "invoice_id": frame["invoice_id"]})
    for column in ("invoice_date", "due_date", "paid_date"):
        values = frame[column].str.strip()
        parsed = pd.to_datetime(values, errors="coerce", format="ISO8601")
        bad = values.ne("") & parsed.isna()
        if column != "paid_date":
            bad |= values.eq("")
        if bad.any():
            rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad)[:5])
            raise HistoryFormatError(f"{path}: {column} is not a YYYY-MM-DD date on line(s) {rows}")
        history[column] = parsed.dt.normalize()
    amount = pd.to_numeric(frame["amount"], errors="coerce")
    if amount.isna().any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(amount.isna())[:5])
        raise HistoryFormatError(f"{path}: amount is not a number on line(s) {rows}")
    history["amount"] = amount
    optional = [c for c in OPTIONAL if c in frame.columns]
    for column in optional:
        if column == "disputed":
            history[column] = (
                frame[column].str.strip().str.lower().isin(("1", "1.0", "true", "yes", "y", "t")).astype(float)
            )
        else:
            history[column] = frame[column].str.strip().replace("", "unknown")
    if history["invoice_id"].duplicated().any():
        raise HistoryFormatError(f"{path}: invoice_id repeats; each invoice must appear once")
    return history, optional


def xero_records(history: pd.DataFrame) -> dict[str, list[tuple[str, str, dict]]]:
    """The history as the Xero records the warehouse reads: an ACCREC invoice per row (PAID with its
    FullyPaidOnDate, else AUTHORISED), one payment for each paid invoice and a contact per customer."""
    invoices, payments = [], []
    for row in history.itertuples(index=False):
        paid = not pd.isna(row.paid_date)
        amount = f"{row.amount:.2f}"
        invoice_id, contact_id = _guid("invoice", row.invoice_id), _guid("customer", row.customer_id)
        invoice = {
            "InvoiceID": invoice_id,
            "InvoiceNumber": row.invoice_id,
            "Type": "ACCREC",
            "Status": "PAID" if paid else "AUTHORISED",
            "Contact": {"ContactID": contact_id, "Name": row.customer_id},
            "DateString": row.invoice_date.strftime("%Y-%m-%dT00:00:00"),
            "DueDateString": row.due_date.strftime("%Y-%m-%dT00:00:00"),
            "CurrencyCode": "XXX",  # ISO 4217's "no currency": amounts are taken as one currency
            "CurrencyRate": "1",
            "Total": amount,
            "AmountDue": "0.00" if paid else amount,
            "AmountPaid": amount if paid else "0.00",
        }
        if paid:
            invoice["FullyPaidOnDate"] = xero_date(row.paid_date.date())
            payments.append(
                (
                    _guid("payment", row.invoice_id),
                    None,
                    {
                        "PaymentID": _guid("payment", row.invoice_id),
                        "Invoice": {"InvoiceID": invoice_id, "Contact": {"ContactID": contact_id}},
                        "PaymentType": "ACCRECPAYMENT",
                        "Status": "AUTHORISED",
                        "DateString": row.paid_date.strftime("%Y-%m-%dT00:00:00"),
                        "Amount": amount,
                        "CurrencyRate": "1",
                    },
                )
            )
        invoices.append((invoice_id, None, invoice))
    contacts = [
        (guid, None, {"ContactID": guid, "Name": customer, "IsCustomer": True, "ContactStatus": "ACTIVE"})
        for customer in history["customer_id"].unique()
        for guid in [_guid("customer", customer)]
    ]
    return {"invoices": invoices, "payments": payments, "contacts": contacts}


def csv_features(history: pd.DataFrame, optional: list[str], grace_days: int = 0) -> pd.DataFrame:
    """read_history's frame with every invoice's features from the warehouse's dbt models, in the shape of
    ``features.warehouse_history`` plus the CSV's optional columns (ids as in the CSV)."""
    from ar_radar.settings import Settings
    from ar_radar.warehouse.build import build_features

    as_of = max(history["invoice_date"].max(), history["paid_date"].max()).date()
    with tempfile.TemporaryDirectory(prefix="ar-radar-backtest-") as work:
        settings = replace(Settings.from_env(), data_dir=Path(work), db_path=Path(work) / "history.duckdb")
        for entity, records in xero_records(history).items():
            write_batch(settings.landing_dir, "csv", "xero", entity, CSV_TENANT, records)
        load_landing(settings.db_path, settings.landing_dir)
        build_features(settings, as_of, grace_days)
        with database.connect(settings.db_path, read_only=True) as con:
            frame = typed(database.frame(con, HISTORY_QUERY, [None, None]))
    customers = {f"{CSV_TENANT}:{_guid('customer', c)}": c for c in history["customer_id"].unique()}
    invoices = {f"{CSV_TENANT}:{_guid('invoice', i)}": i for i in history["invoice_id"]}
    frame["customer_id"] = frame["customer_id"].map(customers)
    frame["invoice_id"] = frame["invoice_id"].map(invoices)
    frame = frame.drop(columns=["tenant_id", "currency_code"])
    given = history.set_index("invoice_id")[optional]
    return frame.join(given, on="invoice_id").reset_index(drop=True)
