"""An invoice history CSV: its validation, and its features from the warehouse's own dbt models."""

from __future__ import annotations

import pandas as pd
import pytest
from ar_radar.scoring.history_csv import HistoryFormatError, csv_features, read_history


def _history(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "invoice_id", "invoice_date", "due_date", "amount", "paid_date"])
    for column in ("invoice_date", "due_date", "paid_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def test_the_warehouse_sql_sees_only_payments_made_before_the_issue_day():
    """The CSV goes through dbt's own models: expected values worked out by hand from the five invoices."""
    history = _history(
        [
            ("A", "1", "2026-01-01", "2026-01-31", 100.0, "2026-02-10"),  # 10 days late
            ("A", "2", "2026-01-15", "2026-02-14", 300.0, "2026-02-14"),  # on time
            ("A", "3", "2026-02-10", "2026-03-12", 200.0, "2026-03-01"),  # issued the day invoice 1 was paid
            ("A", "4", "2026-02-20", "2026-03-22", 100.0, None),  # open
            ("B", "5", "2026-02-20", "2026-03-22", 50.0, "2026-05-01"),
        ]
    )
    features = csv_features(history, []).set_index("invoice_id")
    assert features.loc["1", "paid_invoice_count"] == 0 and pd.isna(features.loc["1", "share_paid_late"])
    # invoice 3: invoice 1's payment on the same day is not yet known; invoices 1 and 2 are unpaid, 1 overdue
    assert features.loc["3", "prior_invoice_count"] == 2 and features.loc["3", "paid_invoice_count"] == 0
    assert features.loc["3", "unpaid_invoice_count"] == 2 and features.loc["3", "overdue_invoice_count"] == 1
    # invoice 4: both earlier payments known; one of two was late, by 10 days, on average 5
    assert features.loc["4", "paid_invoice_count"] == 2
    assert features.loc["4", "share_paid_late"] == 0.5 and features.loc["4", "avg_days_late"] == 5
    assert features.loc["4", "avg_days_to_pay"] == (40 + 30) / 2
    assert features.loc["4", "days_since_last_payment"] == 6 and features.loc["4", "unpaid_invoice_count"] == 1
    assert features.loc["4", "amount_vs_customer_average"] == 100 / 200  # issued before: 100, 300, 200
    assert features.loc["5", "paid_invoice_count"] == 0  # another customer's history is not this one's
    assert list(features["terms_days"]) == [30] * 5
    # the outcome stays an outcome: the paid date is the CSV's, never an input
    assert features.loc["3", "paid_date"] == pd.Timestamp("2026-03-01") and pd.isna(features.loc["4", "paid_date"])


def _csv(tmp_path, header: str, *lines: str):
    path = tmp_path / "history.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    return str(path)


@pytest.mark.parametrize(
    ("header", "line", "message"),
    [
        (
            "customer_id,invoice_id,invoice_date,due_date,amount,paid_date,days_late",
            "A,1,2026-01-01,2026-01-31,10,2026-02-01,1",
            "days_late give the payment outcome away",
        ),
        ("customer_id,invoice_id,invoice_date,amount,paid_date", "A,1,2026-01-01,10,", "missing required column"),
        (
            "customer_id,invoice_id,invoice_date,due_date,amount,paid_date",
            "A,1,01/02/2026,2026-01-31,10,",
            "invoice_date is not a YYYY-MM-DD date on line(s) 2",
        ),
        ("customer_id,invoice_id,invoice_date,due_date,amount,paid_date", "A,1,2026-01-01,2026-01-31,ten,", "amount"),
    ],
)
def test_a_bad_csv_says_what_is_wrong(tmp_path, header, line, message):
    with pytest.raises(HistoryFormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_history(_csv(tmp_path, header, line))


def test_optional_columns_are_read_and_typed(tmp_path):
    path = _csv(
        tmp_path,
        "Customer_ID,invoice_id,invoice_date,due_date,amount,paid_date,disputed,country",
        "A,1,2026-01-01,2026-01-31,10.5,2026-02-01,yes,NZ",
        "A,2,2026-01-02,2026-02-01,11,,0,",
    )
    history, optional = read_history(path)
    assert optional == ["disputed", "country"]
    assert list(history["disputed"]) == [1.0, 0.0] and list(history["country"]) == ["NZ", "unknown"]
    assert history["paid_date"].isna().tolist() == [False, True]
