"""The transparent score: probabilities move the right way and every score carries its reasons."""

import json
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest
from ar_radar.risk_score import BAND_NOTE, MODEL_VERSION, band, score_frame, score_open_invoices

from tests.conftest import AS_OF


def _invoice(**overrides):
    row = {
        "tenant_id": "t",
        "invoice_id": "i",
        "invoice_number": "INV-1",
        "contact_id": "c",
        "contact_name": "Acme",
        "due_date": AS_OF,
        "days_overdue": 0,
        "amount_paid": 0.0,
        "amount_due_base": 1000.0,
        "paid_invoice_count": 10,
        "paid_late_count": 1,
        "share_paid_late": 0.1,
        "avg_days_late": 1.0,
        "open_dispute_count": 0,
        "recent_negative_note_count": 0,
    }
    row.update(overrides)
    return row


def _score(*rows):
    return score_frame(pd.DataFrame(rows), AS_OF)


def test_late_history_and_overdue_raise_the_probability():
    scored = _score(
        _invoice(),
        _invoice(paid_late_count=8, share_paid_late=0.8, avg_days_late=30.0),
        _invoice(
            paid_late_count=8,
            share_paid_late=0.8,
            avg_days_late=30.0,
            days_overdue=40,
            due_date=AS_OF - timedelta(days=40),
        ),
    )
    p = scored["risk_probability"].tolist()
    assert p[0] < p[1] < p[2]
    assert scored["risk_band"].tolist()[0] == "low" and scored["risk_band"].tolist()[2] == "high"


def test_top_factors_are_plain_words_with_signed_weights():
    scored = _score(_invoice(paid_late_count=7, share_paid_late=0.7, avg_days_late=20.0, open_dispute_count=1))
    factors = json.loads(scored.loc[0, "top_factors"])
    assert len(factors) == 3
    assert factors == sorted(factors, key=lambda f: -abs(f["weight"]))
    labels = [f["label"] for f in factors]
    assert "Paid 7 of 10 past invoices late" in labels
    assert any("dispute" in label for label in labels)
    assert scored.loc[0, "model_version"] == MODEL_VERSION and BAND_NOTE


def test_missing_history_is_a_factor_not_a_crash():
    scored = _score(
        _invoice(
            paid_invoice_count=None,
            paid_late_count=None,
            share_paid_late=None,
            avg_days_late=None,
            open_dispute_count=None,
            recent_negative_note_count=None,
        )
    )
    assert "little_history" in scored.loc[0, "top_factors"]


def test_predicted_payment_date_is_never_in_the_past_and_has_an_interval():
    scored = _score(_invoice(days_overdue=60, due_date=AS_OF - timedelta(days=60)))
    row = scored.iloc[0]
    assert row.predicted_payment_earliest > AS_OF
    assert row.predicted_payment_earliest <= row.predicted_payment_date <= row.predicted_payment_latest


@pytest.mark.parametrize(("p", "expected"), [(0.1, "low"), (0.3, "medium"), (0.59, "medium"), (0.6, "high")])
def test_band_edges(p, expected):
    assert band(p) == expected


def test_scores_are_stored_once_per_day(warehouse, tmp_path):
    import shutil

    db = tmp_path / "db.duckdb"
    shutil.copy(warehouse.db_path, db)
    first = score_open_invoices(db, AS_OF)
    score_open_invoices(db, AS_OF)
    with duckdb.connect(str(db), read_only=True) as con:
        count, versions, dates = con.execute(
            "select count(*), count(distinct model_version), count(distinct as_of_date) "
            "from scoring.invoice_risk_scores"
        ).fetchone()
    assert count == len(first) > 0 and versions == 1 and dates == 1
    assert date.fromisoformat(str(first["as_of_date"].iloc[0])) == AS_OF


def test_a_scores_table_from_an_older_version_gains_the_new_column(warehouse, tmp_path):
    import shutil

    db = tmp_path / "db.duckdb"
    shutil.copy(warehouse.db_path, db)
    with duckdb.connect(str(db)) as con:
        con.execute("create schema scoring")
        con.execute("""create table scoring.invoice_risk_scores (
            as_of_date DATE, tenant_id VARCHAR, invoice_id VARCHAR, invoice_number VARCHAR, contact_id VARCHAR,
            contact_name VARCHAR, hubspot_company_id VARCHAR, due_date DATE, days_overdue INTEGER,
            aging_bucket VARCHAR, currency_code VARCHAR, amount_due DECIMAL(18, 2), amount_due_base DECIMAL(18, 2),
            risk_probability DOUBLE, risk_band VARCHAR, top_factors JSON, predicted_payment_date DATE,
            predicted_payment_earliest DATE, predicted_payment_latest DATE, open_dispute_count BIGINT,
            dispute_ticket_id VARCHAR, model_version VARCHAR, scored_at TIMESTAMPTZ,
            PRIMARY KEY (as_of_date, tenant_id, invoice_id))""")
    score_open_invoices(db, AS_OF)
    with duckdb.connect(str(db), read_only=True) as con:
        buckets = con.execute(
            "select count(*) filter (where collections_bucket is null), count(*) from scoring.invoice_risk_scores"
        ).fetchone()
    assert buckets[0] == 0 and buckets[1] > 0
