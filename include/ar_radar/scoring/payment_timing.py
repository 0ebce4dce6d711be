"""When an open invoice will be paid: the days-to-pay model's prediction plus its out-of-window errors."""

from __future__ import annotations

import numpy as np

HORIZONS = (7, 30)  # days ahead of the expected cash in
MIN_TAIL = 20  # errors kept to describe a very old invoice's payment date


def payment_timing(predicted_days: np.ndarray, age: np.ndarray, residuals: np.ndarray) -> dict[str, np.ndarray]:
    """When invoices unpaid `age` days after issue will be paid, in days from issue: median, earliest (10th
    percentile), latest (90th), and the chance of payment within each of HORIZONS days from today.

    The distribution is the model's prediction plus its out-of-window errors (residuals), keeping only the
    errors that leave the invoice unpaid today (at least MIN_TAIL of the largest, for very old invoices)."""
    errors = np.sort(np.asarray(residuals, dtype=float))
    n = len(errors)
    lo = np.minimum(np.searchsorted(errors, age - predicted_days, side="left"), max(n - MIN_TAIL, 0))
    tail = n - lo

    def quantile(q: float) -> np.ndarray:
        return np.maximum(predicted_days + errors[lo + np.floor(q * (tail - 1)).astype(int)], age + 1)

    timing = {"median": quantile(0.5), "earliest": quantile(0.1), "latest": quantile(0.9)}
    for h in HORIZONS:
        paid_by = np.searchsorted(errors, age + h - predicted_days, side="right")
        timing[f"within_{h}"] = np.clip(paid_by - lo, 0, None) / tail
    return timing
