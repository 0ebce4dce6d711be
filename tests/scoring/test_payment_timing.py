"""When an open invoice will be paid, given that it is unpaid today."""

import numpy as np
import pytest
from ar_radar.scoring.payment_timing import payment_timing


def test_payment_timing_is_conditioned_on_the_invoice_being_unpaid_today():
    errors = np.repeat(np.arange(-10.0, 31.0), 2)  # the model's backtest errors: observed - predicted days to pay
    predicted = np.array([30.0, 30.0, 30.0, 30.0])
    age = np.array([0, 25, 45, 400])  # days since issue, still unpaid
    t = payment_timing(predicted, age, errors)
    assert t["median"][0] == 40 and (t["earliest"][0], t["latest"][0]) == (24, 56)  # 10th..90th percentile
    assert (t["earliest"] >= age + 1).all()  # never before tomorrow
    assert (t["earliest"] <= t["median"]).all() and (t["median"] <= t["latest"]).all()
    assert (np.diff(t["median"]) >= 0).all()  # the longer unpaid, the later
    assert (t["within_7"] <= t["within_30"]).all() and (t["within_30"] <= 1).all()
    # unpaid at day 45 of a predicted 30: only errors of 15+ remain (32), 16 of them (15..22) within 7 days
    assert t["within_7"][2] == pytest.approx(16 / 32)
    assert t["median"][3] == 401  # far past every error: tomorrow, not a date in the past
