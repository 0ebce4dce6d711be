"""The model explains itself exactly: per-feature contributions add up to its log-odds."""

from __future__ import annotations

import numpy as np
import pytest
from ar_radar.scoring.backtest import feature_columns
from ar_radar.scoring.features import with_outcomes
from ar_radar.scoring.model import baseline_log_odds, contributions, describe, late_model, top_factors


@pytest.fixture(scope="module")
def fitted(history_features):
    frame, optional = history_features
    data = with_outcomes(frame)
    paid = data[data["paid_date"].notna()].reset_index(drop=True)
    numeric, categorical = feature_columns(optional)
    assert numeric[-1] == "disputed" and categorical == ["currency"]
    model = late_model(numeric, categorical).fit(paid[numeric + categorical], paid["late"])
    return model, paid[numeric + categorical], paid


def test_contributions_add_up_to_the_log_odds(fitted):
    model, x, _ = fitted
    parts = contributions(model, x, x)
    assert set(parts.columns) == set(x.columns)
    rebuilt = parts.sum(axis=1) + baseline_log_odds(model, x)
    np.testing.assert_allclose(rebuilt, model.decision_function(x), atol=1e-9)
    assert abs(parts.mean()).max() < 1e-9  # relative to an average invoice


def test_top_factors_name_the_reason_in_words_with_signed_weights(fitted):
    model, x, paid = fitted
    parts = contributions(model, x, x)
    probability = model.predict_proba(x)[:, 1]
    worst = int(np.argmax(np.where(paid["paid_invoice_count"] >= 5, probability, 0)))
    [factors] = top_factors(parts.iloc[[worst]], paid.iloc[[worst]])
    assert len(factors) == 3 and factors[0]["weight"] > 0
    assert abs(factors[0]["weight"]) >= abs(factors[1]["weight"]) >= abs(factors[2]["weight"])
    words = " | ".join(f["label"] for f in factors)
    assert "late" in words or "Disputed" in words, words


def test_a_factor_of_one_day_or_one_invoice_reads_in_the_singular():
    assert describe("avg_days_late", {"avg_days_late": 1.2}) == "Pays on average 1 day after due"
    assert describe("avg_days_to_pay", {"avg_days_to_pay": 31.0}) == "Takes 31 days to pay on average"
    assert describe("days_late_trend", {"days_late_trend": -1.0}) == "Lately paying 1 day faster than usual"
    assert describe("credit_note_count", {"credit_note_count": 1}) == "1 credit note so far"
