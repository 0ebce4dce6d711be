"""The dbt build against a real DuckDB file of sandbox data, checked against the generator's intent."""

from datetime import date

import duckdb
import pytest
from ar_radar import database
from ar_radar.raw.store import record_key_sql
from ar_radar.warehouse.build import WarehouseBuildError, build_warehouse

from tests.conftest import AS_OF, copy_of, make_settings


def _query(settings, sql):
    """The rows as tuples, Xero's ids as text (as ar_radar.database.rows gives them)."""
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        return [tuple(row.values()) for row in database.rows(con, sql)]


def test_aging_holds_exactly_the_open_sales_invoices(warehouse, sandbox):
    aged = {
        r[0]: r[1]
        for r in _query(warehouse, "select invoice_number || '@' || tenant_id, days_overdue from marts.fct_ar_aging")
    }
    expected_open, expected_overdue = set(), set()
    for company in sandbox.companies:
        for number, truth in company.truth.items():
            if truth["state"] == "open":
                expected_open.add(f"{number}@{company.tenant_id}")
                if truth["overdue"]:
                    expected_overdue.add(f"{number}@{company.tenant_id}")
    assert set(aged) == expected_open  # no paid, voided, draft or bills
    assert {k for k, days in aged.items() if days > 0} == expected_overdue


def test_amounts_in_base_currency_and_buckets(warehouse):
    rows = _query(
        warehouse,
        """select currency_code, amount_due, currency_rate, amount_due_base, days_overdue,
                  aging_bucket, base_currency from marts.fct_ar_aging""",
    )
    # a GBP and a EUR organisation, each with some customers billed in the other currency
    assert {(r[0], r[6]) for r in rows} == {("GBP", "GBP"), ("EUR", "GBP"), ("EUR", "EUR"), ("GBP", "EUR")}
    for currency, due, rate, base, days, bucket, base_currency in rows:
        assert abs(float(base) - float(due) / float(rate)) < 0.01
        if currency == base_currency:
            assert base == due
        assert (bucket == "current") == (days <= 0)


def test_customer_features_reflect_payment_behaviour(warehouse, sandbox):
    profile = {c.contact_id: c.profile for company in sandbox.companies for c in company.customers}
    rows = _query(
        warehouse, "select contact_id, share_paid_late from marts.customer_risk_features where paid_invoice_count >= 5"
    )
    late = {"reliable": [], "chronic": []}
    for contact_id, share in rows:
        if profile[contact_id] in late:
            late[profile[contact_id]].append(share)
    assert max(late["reliable"]) < min(late["chronic"])


def test_matching_uses_domain_and_name_and_reports_the_rest(warehouse):
    rules = dict(_query(warehouse, "select match_rule, count(*) from intermediate.int_customer_matches group by 1"))
    assert rules["email_domain"] > 0 and rules["normalised_name"] > 0 and rules["unmatched"] > 0


def test_a_xero_id_that_is_not_a_guid_stops_the_build_says_how_to_find_it_and_raw_keeps_it(warehouse, tmp_path):
    """Xero's ids are GUIDs, kept as UUIDs (macro xero_id): an invoice id that is not one stops the build at the
    staging model, with the value and the query that finds its raw record; raw keeps it as it came."""
    settings = copy_of(warehouse, tmp_path)
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute(
            f"""insert into raw.xero_invoices select * replace ('INV-0042' as record_id, 'run-bad' as run_id,
                    {record_key_sql(record_id="'INV-0042'")} as record_key, now() as loaded_at)
                from raw.xero_invoices_current limit 1"""
        )
        [(raw_rows,)] = con.execute("select count(*) from raw.xero_invoices").fetchall()
    with pytest.raises(WarehouseBuildError) as failed:
        build_warehouse(settings, AS_OF)
    message = str(failed.value)
    assert "stg_xero__invoices" in message and "'INV-0042'" in message and "is not a GUID" in message
    query = message.split("find it with `")[1].split("`")[0].replace("<stream>", "invoices")
    with duckdb.connect(str(settings.db_path)) as con:
        assert [r[3] for r in con.execute(query).fetchall()] == ["INV-0042"]  # the query the message gives
        assert con.execute("select count(*) from raw.xero_invoices").fetchall() == [(raw_rows,)]


def test_rebuilding_is_idempotent(warehouse, tmp_path):
    rebuilt = copy_of(warehouse, tmp_path)
    build_warehouse(rebuilt, AS_OF)
    query = "select * from marts.fct_ar_aging order by all"
    assert _query(rebuilt, query) == _query(warehouse, query)


def test_as_of_date_moves_the_aging(warehouse, tmp_path):
    from ar_radar.warehouse.build import build_models

    later = copy_of(warehouse, tmp_path)
    build_models(later, date(2026, 12, 20), "fct_ar_aging")  # the aging alone, a month on, on a copy
    shifted = _query(later, "select min(as_of_date), max(days_overdue) from marts.fct_ar_aging")[0]
    baseline = _query(warehouse, "select max(days_overdue) from marts.fct_ar_aging")[0][0]
    assert shifted == (date(2026, 12, 20), baseline + 30)


def test_a_failed_build_names_the_node_and_how_to_reproduce(tmp_path):
    import pytest
    from ar_radar.warehouse.build import WarehouseBuildError

    from tests.conftest import make_settings

    settings = make_settings(tmp_path)  # an empty DuckDB file: the raw sources do not exist
    with pytest.raises(WarehouseBuildError) as err:
        build_warehouse(settings, AS_OF)
    message = str(err.value)
    assert "dbt build failed" in message and "stg_xero__invoices" in message and "Reproduce with" in message
    assert f"--vars '{{as_of_date: {AS_OF}}}'" in message  # the day is not a var of the daily build: say it
    with duckdb.connect(str(settings.db_path), read_only=True) as con:  # and the failed nodes are on record
        failed = con.execute("select unique_id from ops.warehouse_build_nodes where status = 'error'").fetchall()
    assert any("stg_xero__invoices" in unique_id for (unique_id,) in failed)


def test_match_exceptions_list_unmatched_customers_with_their_open_amount(warehouse, sandbox):
    in_crm = {c.contact_id for company in sandbox.companies for c in company.customers if c.hubspot_company_id}
    rows = _query(warehouse, "select contact_id, match_rule, open_amount_base from marts.customer_match_exceptions")
    unmatched = {r[0] for r in rows if r[1] == "unmatched"}
    assert unmatched and not unmatched & in_crm  # only customers the CRM really lacks are "unmatched"
    rules = dict(_query(warehouse, "select match_rule, count(*) from intermediate.int_customer_matches group by 1"))
    assert rules["contact_email"] > 0  # personal mailboxes are matched through the CRM contact's email
    amounts = [r[2] for r in rows]
    assert amounts == sorted(amounts, reverse=True)


def test_snapshot_keeps_each_invoice_status_change(warehouse, tmp_path):
    import shutil

    settings = make_settings(tmp_path)
    shutil.copy(warehouse.db_path, settings.db_path)
    with duckdb.connect(str(settings.db_path)) as con:
        [(invoice_id,)] = con.execute(
            "select invoice_id from marts.fct_ar_aging order by invoice_id limit 1"
        ).fetchall()
        con.execute(
            """
            insert into raw.xero_invoices
            select source, entity, tenant_id, record_id, updated_at, record_hash || '-paid', 'later-run',
                   extracted_at + interval 1 day, json_merge_patch(payload, '{"Status": "PAID", "AmountDue": 0}'),
                   now(), record_key
            from raw.xero_invoices_current where record_id = ?""",
            [invoice_id],
        )
    build_warehouse(settings, AS_OF)
    history = _query(
        settings,
        f"""select status, dbt_valid_to is null from snapshots.invoice_status_history
                                   where invoice_id = '{invoice_id}' order by dbt_valid_from""",
    )
    assert history == [("AUTHORISED", False), ("PAID", True)]
    assert invoice_id not in {r[0] for r in _query(settings, "select invoice_id from marts.fct_ar_aging")}


def test_dbt_docs_generate_works(warehouse, tmp_path):
    from ar_radar.warehouse.build import generate_docs

    target = generate_docs(copy_of(warehouse, tmp_path), AS_OF)
    assert "model.ar_radar.fct_ar_aging" in (target / "catalog.json").read_text()
    assert (target / "index.html").exists()


def test_unapplied_credits_lower_the_net_exposure(warehouse, sandbox):
    expected: dict[str, float] = {}
    for company in sandbox.companies:
        for doc in company.overpayments + company.prepayments + company.credit_notes:
            if doc["Status"] == "AUTHORISED" and doc["RemainingCredit"] > 0:
                base = float(doc["RemainingCredit"]) / float(doc["CurrencyRate"])
                expected[doc["Contact"]["ContactID"]] = expected.get(doc["Contact"]["ContactID"], 0) + base
    rows = _query(
        warehouse,
        """select contact_id, unapplied_credit_base, open_amount_base, net_exposure_base
                                from marts.customer_risk_features""",
    )
    got = {r[0]: float(r[1]) for r in rows if r[1]}
    assert expected and got.keys() == expected.keys()
    assert all(abs(got[k] - expected[k]) < 0.02 for k in expected)
    assert all(r[3] == r[2] - r[1] for r in rows)


def test_every_dbt_unit_test_passes(warehouse, tmp_path):
    """The daily build leaves dbt's unit tests to CI: this is where they run."""
    import yaml
    from ar_radar.warehouse.build import run_unit_tests

    declared = sum(
        len(yaml.safe_load(path.read_text()).get("unit_tests", []))
        for path in (warehouse.dbt_project_dir / "models").rglob("*.yml")
    )
    assert declared >= 8
    assert run_unit_tests(copy_of(warehouse, tmp_path), AS_OF) == declared
