"""The warehouse benchmark compares like with like: on a small synthetic dataset, the pandas version and
the raw-SQL run give exactly what the dbt models give."""

import shutil
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from ar_radar import database
from ar_radar.warehouse.build import build_warehouse

from tests.conftest import AS_OF, make_settings

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import pandas_warehouse  # noqa: E402
import warehouse_scale  # noqa: E402
from scale_data import Scale, generate  # noqa: E402

pytestmark = pytest.mark.bench

FEATURES = [
    "paid_invoice_count",
    "paid_late_count",
    "share_paid_late",
    "avg_days_late",
    "recent_avg_days_late",
    "amount_weighted_days_late",
    "days_since_last_payment",
    "share_paid_in_instalments",
    "unpaid_invoice_count",
    "overdue_invoice_count",
    "credit_note_count",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scale")
    raw = folder / "synthetic.duckdb"
    counts = generate(raw, Scale.small())
    assert counts["xero_invoices"] == 4000 and counts["xero_payments"] > 10_000
    settings = make_settings(folder / "dbt-run")
    settings.data_dir.mkdir()
    shutil.copy(raw, settings.db_path)
    build_warehouse(settings, AS_OF)
    return raw, settings


def _dbt(settings, sql):
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return database.frame(con, sql)


def test_pandas_aging_matches_dbt(built):
    raw, settings = built
    frames = pandas_warehouse.load(raw)
    got = pandas_warehouse.aging(frames["invoices"], AS_OF).set_index(["tenant_id", "invoice_id"]).sort_index()
    want = (
        _dbt(
            settings,
            """select tenant_id, invoice_id, days_overdue, aging_bucket, collections_bucket, amount_due_base
           from marts.fct_ar_aging""",
        )
        .set_index(["tenant_id", "invoice_id"])
        .sort_index()
    )
    assert len(want) > 100
    assert list(got.index) == list(want.index)
    assert (got["days_overdue"].to_numpy() == want["days_overdue"].to_numpy()).all()
    assert (got["aging_bucket"].astype(str).to_numpy() == want["aging_bucket"].to_numpy()).all()
    assert (got["collections_bucket"].astype(str).to_numpy() == want["collections_bucket"].to_numpy()).all()
    assert (abs(got["amount_due_base"] - want["amount_due_base"].astype(float)) < 0.005).all()


@pytest.mark.parametrize(
    ("pandas_key", "model", "keys"),
    [
        ("invoice_features", "invoice_features_history", ["tenant_id", "invoice_id"]),
        ("customer_features", "customer_risk_features", ["tenant_id", "contact_id"]),
    ],
)
def test_pandas_features_match_dbt(built, pandas_key, model, keys):
    raw, settings = built
    got = pandas_warehouse.build(raw, AS_OF)[pandas_key].set_index(keys).sort_index()[FEATURES]
    want = _dbt(settings, f"select {', '.join(keys + FEATURES)} from marts.{model}").set_index(keys).sort_index()
    assert len(want) > 100 and list(got.index) == list(want.index)
    pd.testing.assert_frame_equal(got.astype("float64"), want.astype("float64"), check_exact=False, atol=0.011)


def test_raw_sql_run_builds_the_same_tables(built, tmp_path):
    raw, settings = built
    folder = tmp_path / "sql"
    folder.mkdir()
    shutil.copy(raw, folder / "ar_radar.duckdb")
    sql_settings = warehouse_scale._settings(folder)
    build_warehouse(sql_settings, AS_OF)  # seeds and compiled SQL for this file
    warehouse_scale.write_manifest(sql_settings)
    with duckdb.connect(str(sql_settings.db_path)) as con:
        con.execute("drop schema marts cascade")
    warehouse_scale._run_compiled_sql(sql_settings, folder / "dbt" / "target")
    for table in ("fct_ar_aging", "invoice_features_history", "fct_ar_monthly_metrics"):
        query = f"select * from marts.{table} order by all"
        assert _dbt(sql_settings, query).equals(_dbt(settings, query))
