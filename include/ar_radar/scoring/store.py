"""Where scores are kept: ``scoring.invoice_risk_scores`` (one row per open invoice and day) and its roll-ups."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from ar_radar import database
from ar_radar.scoring.bands import band_sql


def store_scores(db_path: Path, scored: pd.DataFrame, as_of: date) -> None:
    """Replace as_of's scores with these (a re-run of a day replaces that day only) and refresh the roll-ups."""
    with database.connect(db_path, read_only=False) as con:
        database.ensure(con, "scoring.invoice_risk_scores")
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
                   now() AS scored_at, invoice_date, model_note, paid_within_7d, paid_within_30d, base_currency,
                   reminder_tier
            FROM scored_frame""",
            [as_of],
        )
        con.execute("COMMIT")
        con.execute(ROLLUP_VIEWS)


# Per customer and per organisation, every scored day: what is open, how much is likely late, and the cash
# expected in (each invoice's amount times its chance of payment within 7 / 30 days).
ROLLUP_VIEWS = f"""
CREATE OR REPLACE VIEW scoring.customer_risk AS
SELECT * EXCLUDE (weighted_probability),
       round(weighted_probability, 4) AS risk_probability,
       {band_sql("weighted_probability")} AS risk_band
FROM (
    SELECT as_of_date, tenant_id, contact_id, any_value(contact_name) AS contact_name,
           any_value(base_currency) AS base_currency,
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
SELECT as_of_date, tenant_id, any_value(base_currency) AS base_currency, count(*) AS open_invoices,
       sum(amount_due_base) AS open_amount_base,
       round(sum(paid_within_7d * amount_due_base), 2) AS expected_cash_7d_base,
       round(sum(paid_within_30d * amount_due_base), 2) AS expected_cash_30d_base,
       string_agg(DISTINCT model_version, ', ') AS model_versions
FROM scoring.invoice_risk_scores GROUP BY as_of_date, tenant_id;
"""
