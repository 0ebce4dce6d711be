"""The Great Expectations gate on real DuckDB tables, validated through the committed suites."""

import shutil

import duckdb
import pytest
from ar_radar.gate.history import last_passing_run, load_report, store_report
from ar_radar.gate.validate import validate
from ar_radar.warehouse.build import build_warehouse

from tests.conftest import AS_OF, make_settings


def test_healthy_warehouse_passes(warehouse):
    report = validate(warehouse.db_path, warehouse.gx_root, "healthy", AS_OF)
    assert report.passed and not report.critical_failures
    assert {c.table for c in report.checks} == {
        "stg_xero__invoices",
        "stg_xero__contacts",
        "stg_xero__payments",
        "fct_ar_aging",
        "source_schema",
        "ar_reconciliation",
        "staging_row_counts",
        "freshness",
        "matching_coverage",
        "base_currencies",
    }
    assert len(report.checks) >= 40


@pytest.fixture(scope="module")
def damaged_build(warehouse, tmp_path_factory):
    """A copy of the warehouse where new raw versions of three open invoices carry a negative amount due,
    rebuilt by dbt as the DAG does before the gate (once per module: each test takes its own copy)."""
    settings = make_settings(tmp_path_factory.mktemp("damaged"))
    shutil.copy(warehouse.db_path, settings.db_path)
    with duckdb.connect(str(settings.db_path)) as con:
        picked = con.execute("""select record_id, payload->>'InvoiceNumber' from raw.xero_invoices_current
                                 where payload->>'Type' = 'ACCREC' and payload->>'Status' = 'AUTHORISED'
                                 order by record_id limit 3""").fetchall()
        con.execute(
            """
            insert into raw.xero_invoices
            select source, entity, tenant_id, record_id, updated_at, record_hash || '-bad', 'bad-run',
                   extracted_at + interval 1 hour, json_merge_patch(payload, '{"AmountDue": -5}'), now(), record_key
            from raw.xero_invoices_current where record_id in (select unnest(?))""",
            [[p[0] for p in picked]],
        )
    build_warehouse(settings, AS_OF)
    return settings, [p[1] for p in picked]


@pytest.fixture
def damaged(damaged_build, tmp_path):
    built, numbers = damaged_build
    settings = make_settings(tmp_path)
    shutil.copy(built.db_path, settings.db_path)
    return settings, numbers


def test_negative_amount_due_stops_the_gate_and_names_the_invoices(damaged):
    settings, numbers = damaged
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        raw_before = con.execute("select count(*), sum(hash(payload::varchar)) from raw.xero_invoices").fetchone()
    report = validate(settings.db_path, settings.gx_root, "damaged", AS_OF)
    assert not report.passed
    [failure] = [c for c in report.critical_failures if c.table == "stg_xero__invoices"]
    assert (failure.table, failure.column, failure.check) == (
        "stg_xero__invoices",
        "amount_due",
        "expect_column_values_to_be_between",
    )
    # the aging (open amounts only) no longer adds up to the raw invoices' amount due
    [unreconciled] = [c for c in report.critical_failures if c.table == "ar_reconciliation"]
    assert unreconciled.unexpected_count >= 1 and "values equal to 0" in unreconciled.describe()
    assert failure.unexpected_count == 3 and set(failure.example_ids) == set(numbers)
    assert "3 of" in failure.describe() and "amount_due" in failure.describe()
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        assert (
            con.execute("select count(*), sum(hash(payload::varchar)) from raw.xero_invoices").fetchone() == raw_before
        )


def test_reports_are_stored_and_round_trip(damaged):
    settings, _ = damaged
    healthy = validate(settings.db_path, settings.gx_root, "run-ok", AS_OF)
    healthy.checks = [c for c in healthy.checks if c.success]  # as if the earlier run had been clean
    store_report(settings.db_path, healthy)
    report = validate(settings.db_path, settings.gx_root, "run-bad", AS_OF)
    store_report(settings.db_path, report)
    store_report(settings.db_path, report)  # re-running a run replaces its rows
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        runs = con.execute("select run_id, passed, critical_failures from ops.data_health_runs order by 1").fetchall()
        checks = con.execute("select count(*) from ops.data_health_checks where run_id = 'run-bad'").fetchone()[0]
    assert runs == [("run-bad", False, len(report.critical_failures)), ("run-ok", True, 0)]
    assert len(report.critical_failures) == 2
    assert checks == len(report.checks)
    assert last_passing_run(settings.db_path, "run-bad") is not None
    assert load_report(settings.db_path, "run-bad").critical_failures[0].describe() == (
        report.critical_failures[0].describe()
    )


def test_committed_suites_are_what_checks_yml_says(warehouse):
    """Editing expectations/checks.yml without `make gx-bootstrap` (or the JSON by hand) fails here."""
    import great_expectations as gx
    from ar_radar.gate.suites import expectation_key, suite_specs

    context = gx.get_context(mode="file", context_root_dir=str(warehouse.gx_root))
    for table, expected in suite_specs(warehouse.gx_root).items():
        committed = context.suites.get(table).expectations
        assert sorted(map(expectation_key, committed)) == sorted(map(expectation_key, expected)), table
        [definition] = context.checkpoints.get(table).validation_definitions
        assert definition.suite.name == table


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("severity: critical}", "severity must be one of"),
        ("value_set: invoice_statuses", "no value set named"),
        ("check: expect_table_row_count_to_be_between", "not a Great Expectations expectation"),
    ],
)
def test_a_wrong_checks_config_says_what_is_wrong(warehouse, tmp_path, patch, message):
    from ar_radar.gate.suites import ChecksConfigError, suite_specs

    text = (warehouse.gx_root / "checks.yml").read_text()
    broken = {
        "severity: critical}": "severity: fatal}",
        "value_set: invoice_statuses": "value_set: invoice_states",
        "check: expect_table_row_count_to_be_between": "check: expect_table_to_look_fine",
    }[patch]
    (tmp_path / "checks.yml").write_text(text.replace(patch, broken, 1))
    with pytest.raises(ChecksConfigError, match=message):
        suite_specs(tmp_path)


def test_stale_data_and_poor_matching_are_warnings(warehouse):
    """Judged as of a month later, the same data is a month stale; with HubSpot gone nothing matches."""
    from datetime import timedelta

    later = validate(warehouse.db_path, warehouse.gx_root, "later", AS_OF + timedelta(days=30))
    stale = {(c.table, c.column, c.severity) for c in later.checks if not c.success}
    assert stale == {("freshness", "hours_since_last_update", "warning")}
    assert later.passed


def test_healthy_source_schema_has_no_drift(warehouse):
    """Every field the sandbox serves is expected or known: a clean run reports no new field."""
    from ar_radar.gate import source_schema
    from ar_radar.gate.suites import load_config

    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        found = source_schema.compare(con, load_config(warehouse.gx_root)["source_schema"])
    assert set(found["status"]) == {"ok"}, found[found["status"] != "ok"]["finding"].tolist()
    assert {"xero_invoices", "xero_payments", "hubspot_tickets"} <= set(found["stream"])
    closed = found[(found["stream"] == "hubspot_tickets") & (found["field"] == "closed_date")]
    assert closed["records_with_field"].iloc[0] > 0  # requested from HubSpot (it used not to be)


def test_source_schema_names_missing_retyped_and_new_fields(warehouse, tmp_path):
    from ar_radar.gate import source_schema

    db = tmp_path / "copy.duckdb"
    shutil.copy(warehouse.db_path, db)
    config = {
        "streams": {
            "xero_contacts": {
                "fields": {"ContactID": "string", "Name": "number", "Gone": "string"},
                "optional_fields": {"MaybeGone": "string"},
                "known": ["ContactStatus"],
            }
        }
    }
    with duckdb.connect(str(db)) as con:
        found = source_schema.compare(con, config).set_index("field")
    assert found.loc["ContactID", "status"] == "ok"
    assert (
        found.loc["Name", "status"] == "wrong_type"
        and "expected number, arrived as VARCHAR" in found.loc["Name", "finding"]
    )
    assert found.loc["Gone", "status"] == "missing" and "MaybeGone" not in found.index
    assert found.loc["EmailAddress", "status"] == "new" and "ContactStatus" not in found.index
    config["streams"]["xero_contacts"]["fields"]["Name"] = "text"
    with pytest.raises(source_schema.SourceSchemaConfigError, match="xero_contacts.fields.Name"):
        with duckdb.connect(str(db)) as con:
            source_schema.compare(con, config)
    with pytest.raises(source_schema.SourceSchemaConfigError, match="no raw table raw.xero_bills"):
        with duckdb.connect(str(db)) as con:
            source_schema.compare(con, {"streams": {"xero_bills": {"fields": {"BillID": "string"}}}})


def test_source_schema_inspects_a_sample_of_the_newest_run_only(warehouse, tmp_path):
    """However many older versions a stream keeps, the sample is the newest run's records (up to sample_rows)."""
    from ar_radar.gate import source_schema

    db = tmp_path / "copy.duckdb"
    shutil.copy(warehouse.db_path, db)
    config = {"sample_rows": 4, "streams": {"xero_contacts": {"fields": {"ContactID": "string", "Name": "string"}}}}
    with duckdb.connect(str(db)) as con:
        [(older,)] = con.execute("select count(*) from raw.xero_contacts").fetchall()
        # The newest run: 6 contacts whose Name now arrives as a number.
        con.execute("""
            insert into raw.xero_contacts
            select * replace (
                'drift-run' as run_id,
                json_merge_patch(payload, '{"Name": 7}') as payload,
                (select max(loaded_at) from raw.xero_contacts) + interval 1 hour as loaded_at)
            from raw.xero_contacts
            limit 6""")
        found = source_schema.compare(con, config).set_index("field")
    assert older >= 25 * 4  # the older versions would swamp a sample taken before the newest run is picked
    assert found.loc["Name", "status"] == "wrong_type", found.loc["Name", "finding"]
    assert found.loc["Name", "records"] == 4 and found.loc["Name", "records_with_field"] == 4
    assert found.loc["ContactID", "status"] == "ok"


def test_history_says_since_when_each_check_fails_and_sums_up_a_week(damaged):
    from datetime import timedelta

    from ar_radar.gate.history import add_history, health_summary, load_report

    settings, _ = damaged
    monday = AS_OF - timedelta(days=4)
    for day in range(3):  # three mornings, stored as if they had been clean
        healthy = validate(settings.db_path, settings.gx_root, f"day-{day}", monday + timedelta(days=day))
        for check in healthy.checks:
            check.success = True
        store_report(settings.db_path, healthy)
    bad = add_history(settings.db_path, validate(settings.db_path, settings.gx_root, "day-3", AS_OF))
    store_report(settings.db_path, bad)
    [amount] = [c for c in bad.critical_failures if c.table == "stg_xero__invoices"]
    assert amount.passed_last_at == healthy.checked_at  # the last of the healthy mornings
    assert amount.advice.startswith("Open the example invoices in Xero")

    loaded = load_report(settings.db_path, "day-3")
    assert [c.describe() for c in loaded.checks] == [c.describe() for c in bad.checks]
    assert loaded.critical_failures[0].passed_last_at == amount.passed_last_at and not loaded.passed

    week = health_summary(settings.db_path, monday, AS_OF)
    assert (week["days_checked"], week["days_passed"]) == (4, 3)
    assert [d["passed"] for d in week["daily"]] == [True, True, True, False]
    failing = {(f["table"], f["column"], f["severity"]): f for f in week["failing"]}
    assert failing[("stg_xero__invoices", "amount_due", "critical")]["days_failed"] == 1
    assert failing[("stg_xero__invoices", "amount_due", "critical")]["last_failed"] == AS_OF.isoformat()
    assert health_summary(settings.db_path, AS_OF + timedelta(days=1), AS_OF + timedelta(days=7))["days_checked"] == 0


def test_a_tables_dataframe_is_let_go_once_its_checkpoint_ran(warehouse):
    """GX's pandas engine keeps every batch it loaded for the life of the context; the gate empties it after each
    table, so it holds one table's rows at a time (at 3M invoices 9.2 GB -> 5.3 GB; BENCHMARKS.md)."""
    import gc
    import weakref

    import great_expectations as gx
    import pandas as pd
    from ar_radar.gate.validate import _let_go_of_batches

    context = gx.get_context(mode="file", context_root_dir=str(warehouse.gx_root))
    checkpoint = context.checkpoints.get("stg_xero__contacts")
    frame = pd.DataFrame({"contact_id": ["c-1"], "contact_name": ["Acme"], "tenant_id": ["t-1"]})
    alive = weakref.ref(frame)
    assert checkpoint.run(batch_parameters={"dataframe": frame}).success
    del frame
    gc.collect()
    assert alive() is not None, "GX no longer keeps its batches: _let_go_of_batches may go"
    _let_go_of_batches(checkpoint)
    gc.collect()
    assert alive() is None
