"""The growth benchmark's "same business, longer history" (``Scale.of_history``, ``daily_growth.py --customers``)
keeps what a morning ages and scores the same while the history grows."""

import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from scale_data import Scale, generate  # noqa: E402

pytestmark = pytest.mark.bench

OPEN_AND_SPAN = """
    select
        count(*) filter (where payload ->> 'Status' = 'AUTHORISED'),
        count(distinct payload -> 'Contact' ->> 'ContactID'),
        max(cast(payload ->> 'DateString' as date)) - min(cast(payload ->> 'DateString' as date))
    from raw.xero_invoices
"""


def test_a_longer_history_of_the_same_business_has_the_same_open_invoices(tmp_path):
    rows = {}
    for years in (1, 4):
        scale = replace(Scale.of_history(invoices=10_000 * years, customers=1_000), organisations=2)
        assert scale.history_days == 360 * years
        generate(tmp_path / f"{years}.duckdb", scale)
        with duckdb.connect(str(tmp_path / f"{years}.duckdb"), read_only=True) as con:
            rows[years] = con.execute(OPEN_AND_SPAN).fetchone()
    (open_1, customers_1, span_1), (open_4, customers_4, span_4) = rows[1], rows[4]
    assert customers_1 == customers_4 == 1_000
    assert span_1 < 360 and span_4 > 3 * 360  # a year of invoices, then four
    # the invoices still open on as_of_date are the last few months' of each: as many after 4 years as after 1 (at
    # the benchmark's 10,000 customers 12,921 after one year, 12,782 after thirty)
    assert open_1 > 1_000 and abs(open_4 - open_1) < 0.1 * open_1
