"""`python -m ar_radar extract` outside Airflow, reading AIRFLOW_CONN_* (JSON form) like Airflow does."""

import os
import subprocess
import sys

import duckdb
import pandas as pd


def _cli(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "ar_radar", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_extract_both_sources_into_a_duckdb_file(sandbox, tmp_path):
    env = {**os.environ, **sandbox.airflow_connections()}
    db = tmp_path / "cli.duckdb"
    for source in ("xero", "hubspot"):
        result = _cli("extract", source, "--db", str(db), env=env)
        assert result.returncode == 0, result.stderr
    assert "loaded" in result.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        tenants = con.execute("select count(distinct tenant_id) from raw.xero_invoices").fetchone()[0]
        companies = con.execute("select count(*) from raw.hubspot_companies").fetchone()[0]
    assert tenants == 2 and companies == sum(len(c.hubspot["companies"]) for c in sandbox.companies)
    again = _cli("extract", "xero", "--db", str(db), env=env)
    assert "loaded 0 new record versions" in again.stdout  # re-running changes nothing


def test_missing_connection_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    result = _cli("extract", "xero", "--db", str(tmp_path / "x.duckdb"), env=env)
    assert result.returncode == 1
    assert "AIRFLOW_CONN_XERO_DEFAULT" in result.stderr and "Traceback" not in result.stderr


def test_malformed_connection_does_not_echo_its_value(tmp_path):
    env = {**os.environ, "AIRFLOW_CONN_XERO_DEFAULT": '{"password": "s3cret-value", oops}'}
    result = _cli("extract", "xero", "--db", str(tmp_path / "x.duckdb"), env=env)
    assert result.returncode == 1 and "not valid JSON" in result.stderr
    assert "s3cret-value" not in result.stderr + result.stdout


def test_health_history_prints_the_week(tmp_path):
    import json

    from ar_radar.gate.history import store_report
    from ar_radar.gate.report import CheckResult, HealthReport

    db = tmp_path / "health.duckdb"
    for day, ok in (("2026-11-18", True), ("2026-11-19", False), ("2026-11-20", True)):
        check = CheckResult("freshness", "expect_column_values_to_be_between", "hours_since_last_load", "critical", ok)
        store_report(db, HealthReport(f"run-{day}", day, f"{day}T06:00:00+00:00", [check]))
    env = {**os.environ, "AR_RADAR_DB": str(db)}
    text = _cli("health-history", "--days", "7", "--until", "2026-11-20", env=env)
    assert text.returncode == 0, text.stderr
    assert "gate passed 2 of 3 day(s) checked" in text.stdout and "2026-11-19  FAILED" in text.stdout
    assert "freshness.hours_since_last_load" in text.stdout and "failed on 1 day(s), last 2026-11-19" in text.stdout
    summary = json.loads(_cli("health-history", "--until", "2026-11-20", "--json", env=env).stdout)
    assert (summary["days_checked"], summary["days_passed"]) == (3, 2)


def test_export_history_round_trips_through_the_backtest_reader(warehouse, tmp_path):
    from ar_radar.scoring.history_csv import read_history

    env = {**os.environ, "AR_RADAR_DB": str(warehouse.db_path)}
    result = _cli("export-history", "--csv", str(tmp_path / "h.csv"), env=env)
    assert result.returncode == 0, result.stderr
    exported, optional = read_history(str(tmp_path / "h.csv"))
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        direct = con.sql(
            """select tenant_id || ':' || invoice_id as invoice_id, invoice_date, label_paid_on as paid_date,
                      cast(amount_base as double) as amount, currency_code from marts.invoice_features_history"""
        ).df()
    # no dispute column: "ever disputed" would hand the backtest the outcome
    assert optional == ["currency"] and len(exported) == len(direct) > 3000
    merged = exported.merge(direct, on="invoice_id", suffixes=("", "_mart"))
    assert len(merged) == len(direct)
    assert (merged["amount"] - merged["amount_mart"]).abs().max() < 0.005
    assert (merged["currency"] == merged["currency_code"]).all()
    assert merged["paid_date"].isna().sum() == merged["paid_date_mart"].isna().sum() > 0
    paid = merged.dropna(subset=["paid_date"])
    assert (paid["paid_date"] == pd.to_datetime(paid["paid_date_mart"])).all()


def test_train_model_trains_each_organisation_and_says_what_it_measured(warehouse, tmp_path):
    import shutil

    db = tmp_path / "ar.duckdb"
    shutil.copy(warehouse.db_path, db)
    env = {**os.environ, "AR_RADAR_DB": str(db), "AR_RADAR_DATA_DIR": str(tmp_path / "data")}
    result = _cli("train-model", "--as-of", "2026-11-20", env=env)
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        versions = [v for (v,) in con.execute("select version from models.risk_models order by tenant_id").fetchall()]
    assert len(versions) == 2 and all((tmp_path / "data" / "models" / f"{v}.joblib").exists() for v in versions)
    out = result.stdout
    assert out.count(": trained") == 2 and out.count("backtest ROC-AUC") == 2
    assert out.count("CRM signals ") == 2 and all(f"in use: {v}" in out for v in versions)


def test_check_data_health_validates_what_changed_and_in_full_on_demand(warehouse, tmp_path):
    import shutil

    db = tmp_path / "ar.duckdb"
    shutil.copy(warehouse.db_path, db)
    env = {**os.environ, "AR_RADAR_DB": str(db), "AR_RADAR_DATA_DIR": str(tmp_path / "data")}
    with duckdb.connect(str(db), read_only=True) as con:
        [(invoices,)] = con.execute(
            "select count(*) from staging.stg_xero__invoices where invoice_type = 'ACCREC'"
        ).fetchall()
    runs = [_cli("check-data-health", "--as-of", "2026-11-20", *extra, env=env) for extra in ([], [], ["--full"])]
    assert [r.returncode for r in runs] == [0, 0, 0], [r.stderr[-500:] for r in runs]
    first, second, full = (r.stdout for r in runs)
    assert f"stg_xero__invoices: validated {invoices:,} of {invoices:,} rows (no earlier run" in first
    assert f"stg_xero__invoices: validated 0 of {invoices:,} rows (rows changed after" in second
    assert f"validated {invoices:,} of {invoices:,} rows (a full validation was asked for)" in full
    assert "raw invoices: " in first and "(counted in full: no earlier run kept a count)" in first
    assert "raw invoices: " in second and "(0 new records loaded after" in second
    assert "(counted in full: a full validation was asked for)" in full
    with duckdb.connect(str(db), read_only=True) as con:
        [(runs_kept,)] = con.execute("select count(*) from ops.data_health_runs").fetchall()
    assert runs_kept == 3


def test_weekly_report_previews_each_organisations_email_without_sending(scored_warehouse, tmp_path):
    from email import policy
    from email.parser import BytesParser

    env = {**os.environ, "AR_RADAR_DB": str(scored_warehouse.db_path), "AIRFLOW_CONN_SMTP_DEFAULT": ""}
    result = _cli("weekly-report", "--as-of", "2026-11-23", "--out", str(tmp_path / "out"), env=env)
    assert result.returncode == 0, result.stderr
    emails = sorted((tmp_path / "out").glob("*.eml"))
    assert [p.stem for p in emails] == ["Demo Widgets 2 Ltd", "Demo Widgets Ltd"]
    for path in emails:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        assert message["To"] == "owners@example.com" and message.get_body(("plain",))
        html = path.with_suffix(".html").read_text()
        for cid in [p["Content-ID"].strip("<>") for p in message.walk() if p.get_content_type() == "image/png"]:
            assert f'src="{cid}.png"' in html and (tmp_path / "out" / f"{cid}.png").exists()  # the preview's files
    assert result.stdout.count(" is owed ") == 2  # each summary printed
    missing = _cli("weekly-report", "--out", str(tmp_path), env={**env, "AR_RADAR_DB": str(tmp_path / "none.duckdb")})
    assert missing.returncode != 0 and "No warehouse at" in missing.stderr


def test_a_sharded_deployment_needs_the_shard_named(tmp_path):
    env = {**os.environ, "AR_RADAR_SHARDS": "3", "AR_RADAR_DATA_DIR": str(tmp_path)}
    unnamed = _cli("build-warehouse", env=env)
    assert unnamed.returncode == 1 and "--shard N" in unnamed.stderr and "Traceback" not in unnamed.stderr
    named = _cli("--shard", "2", "build-warehouse", env=env)
    assert named.returncode == 1 and str(tmp_path / "shards" / "2" / "ar_radar.duckdb") in named.stderr
    missing = _cli("--shard", "3", "build-warehouse", env=env)
    assert missing.returncode == 1 and "There is no shard 3" in missing.stderr


def test_practice_overview_without_published_shards_says_what_to_run(tmp_path):
    result = _cli("practice-overview", env={**os.environ, "AR_RADAR_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1 and "publish_marts" in result.stderr and "Traceback" not in result.stderr


def test_create_pools_makes_the_pools_the_dag_uses(airflow_db, tmp_path):
    """Against a real (migrated SQLite) Airflow metadata database, as the compose file's init step runs it."""
    import json
    import shutil

    shutil.copy(airflow_db, tmp_path / "airflow.db")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AR_RADAR_WAREHOUSE_POOL_SLOTS": "3",
    }
    created = _cli("create-pools", env=env)
    assert created.returncode == 0, created.stderr
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    listed = subprocess.run([airflow, "pools", "list", "-o", "json"], env=env, capture_output=True, text=True)
    pools = {p["pool"]: int(p["slots"]) for p in json.loads(listed.stdout)}
    assert pools["ar_radar_xero_api"] == 166 and pools["ar_radar_warehouse"] == 3
