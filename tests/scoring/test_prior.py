"""rules-v1, the cold-start prior: its factors, words and predicted dates."""

import json
from datetime import timedelta

import pandas as pd
from ar_radar.scoring.prior import score_by_prior

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
    return score_by_prior(pd.DataFrame(rows), AS_OF)


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
    assert scored.loc[0, "model_version"] == "rules-v1"


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
    assert "Only 0 paid invoices on record" in scored.loc[0, "top_factors"]


def test_predicted_payment_date_is_never_in_the_past_and_has_an_interval():
    scored = _score(_invoice(days_overdue=60, due_date=AS_OF - timedelta(days=60)))
    row = scored.iloc[0]
    assert row.predicted_payment_earliest > AS_OF
    assert row.predicted_payment_earliest <= row.predicted_payment_date <= row.predicted_payment_latest
