"""Xero extraction through the official xero-python SDK, over HTTP, against the sandbox."""

import json
from dataclasses import replace
from datetime import date

import pytest
from ar_radar.connections import connection_from_env
from ar_radar.extract.xero import STREAMS, XeroExtractError, connect, extract_xero, fetch_stream
from ar_radar.sandbox.demo_company import generate_demo_company
from ar_radar.sandbox.server import Sandbox


def _landed(batch) -> list[dict]:
    return [json.loads(line) for line in batch.path.read_text().splitlines()]


def test_every_organisation_and_stream_is_extracted_with_full_json(sandbox_env, tmp_path):
    batches = extract_xero(connection_from_env("xero_default"), tmp_path, "run-a")
    tenants = {c.tenant_id for c in sandbox_env.companies}
    assert {b.tenant_id for b in batches} == tenants  # not just the first tenant
    assert len(batches) == len(tenants) * len(STREAMS)
    for company in sandbox_env.companies:
        invoices = next(b for b in batches if b.tenant_id == company.tenant_id and b.entity == "invoices")
        rows = _landed(invoices)
        sales = {i["InvoiceID"] for i in company.invoices if i["Type"] == "ACCREC"}
        # more than one 1000-record page, all of it, and no supplier bills
        assert len(sales) > 1000 and {r["record_id"] for r in rows} == sales
        sample = next(r for r in rows if r["payload"]["Payments"])
        assert sample["payload"]["Date"].startswith("/Date(") and "DateString" in sample["payload"]
        assert sample["tenant_id"] == company.tenant_id and sample["updated_at"].startswith("/Date(")
        payments = next(b for b in batches if b.tenant_id == company.tenant_id and b.entity == "payments")
        assert payments.records == len(company.payments)


def test_unknown_fields_are_preserved(tmp_path, monkeypatch):
    company = generate_demo_company(seed=3, as_of=date(2026, 11, 20), n_customers=5)
    company.invoices[0]["FutureField"] = {"nested": [1, 2, 3]}
    with Sandbox(companies=[company]) as box:
        monkeypatch.setenv("AIRFLOW_CONN_XERO_DEFAULT", box.airflow_connections()["AIRFLOW_CONN_XERO_DEFAULT"])
        batches = extract_xero(connection_from_env("xero_default"), tmp_path, "run-b")
    invoices = next(b for b in batches if b.entity == "invoices")
    landed = {r["record_id"]: r["payload"] for r in _landed(invoices)}
    assert landed[company.invoices[0]["InvoiceID"]]["FutureField"] == {"nested": [1, 2, 3]}


def test_tenant_ids_extra_narrows_the_organisations(sandbox_env, tmp_path):
    conn = connection_from_env("xero_default")
    only = sandbox_env.companies[1].tenant_id
    batches = extract_xero(replace(conn, extra={**conn.extra, "tenant_ids": [only]}), tmp_path, "run-c")
    assert {b.tenant_id for b in batches} == {only}


def test_wrong_secret_is_a_clear_error_without_the_secret(sandbox_env):
    conn = connection_from_env("xero_default")
    bad = replace(conn, password="definitely-wrong-secret")
    with pytest.raises(XeroExtractError) as err:
        connect(bad)
    assert "client id and secret" in str(err.value)
    assert "definitely-wrong-secret" not in str(err.value) and conn.password not in str(err.value)
    assert "definitely-wrong-secret" not in repr(bad)


def test_http_errors_name_the_stream_and_organisation(sandbox_env):
    session = connect(connection_from_env("xero_default"))
    with pytest.raises(XeroExtractError, match="Invoices page 1 for organisation not-a-tenant failed with HTTP 403"):
        fetch_stream(session, "not-a-tenant", STREAMS[0])
