"""Xero extraction through the official xero-python SDK, over HTTP, against the sandbox.

Each failure mode the well-known extractors get wrong has a test here (see FACTS in the issue):
rotating refresh tokens, day vs minute limits, records changing while paged, resumable runs,
multi-organisation connections, soft deletes and unknown fields.
"""

from __future__ import annotations

import json
import multiprocessing
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from ar_radar.extract.checkpoints import CheckpointStore
from ar_radar.extract.connections import ApiConnection, connection_from_env
from ar_radar.extract.rate_limit import SimulatedClock
from ar_radar.extract.xero import STREAMS, XeroApi, XeroExtractError, extract_xero
from ar_radar.extract.xero_auth import XeroAuthError, XeroReconnectRequired
from ar_radar.local.sandbox.demo_company import generate_demo_company
from ar_radar.local.sandbox.server import Sandbox
from ar_radar.raw.store import load_landing

AS_OF = date(2026, 11, 20)


def _landed(batch) -> list[dict]:
    return [json.loads(line) for f in sorted(batch.path.glob("*.jsonl")) for line in f.read_text().splitlines()]


def _conn(box: Sandbox, **extra) -> ApiConnection:
    raw = json.loads(box.airflow_connections()["AIRFLOW_CONN_XERO_DEFAULT"])
    return ApiConnection("xero_default", raw["login"], raw["password"], None, {**raw["extra"], **extra})


def _small_box(**kwargs) -> Sandbox:
    company = generate_demo_company(seed=5, as_of=AS_OF, n_customers=12)
    return Sandbox(companies=[company], **kwargs)


def _ids(results, entity="invoices") -> list[str]:
    return [r["record_id"] for res in results for b in res.batches if b.entity == entity for r in _landed(b)]


def test_every_organisation_and_stream_is_extracted_with_full_json(sandbox_env, tmp_path):
    results = extract_xero(connection_from_env("xero_default"), tmp_path / "landing", "run-a")
    assert {r.tenant_id for r in results} == {c.tenant_id for c in sandbox_env.companies}  # not just the first
    for company, result in zip(sandbox_env.companies, results, strict=True):
        assert result.status == "complete" and len(result.batches) == len(STREAMS)
        invoices = next(b for b in result.batches if b.entity == "invoices")
        rows = _landed(invoices)
        sales = {i["InvoiceID"] for i in company.invoices if i["Type"] == "ACCREC"}
        assert len(sales) > 1000 and sorted(r["record_id"] for r in rows) == sorted(sales)  # all pages, no bills
        sample = next(r for r in rows if r["payload"]["Payments"])
        assert sample["payload"]["Date"].startswith("/Date(") and "DateString" in sample["payload"]
        assert sample["tenant_id"] == company.tenant_id
        voided = {i["InvoiceID"] for i in company.invoices if i["Status"] == "VOIDED"}
        assert voided and voided <= {r["record_id"] for r in rows}  # deletions are carried
        # Full sync: one call per page of records per stream, the minimum possible.
        sizes = company.xero_stream_sizes().values()
        assert result.calls == sum(max(1, -(-n // 1000)) for n in sizes)


def test_unknown_fields_and_schema_drift_are_landed_as_sent(tmp_path):
    company = generate_demo_company(seed=3, as_of=AS_OF, n_customers=5)
    company.invoices[0]["FutureField"] = {"nested": [1, 2, 3]}
    with Sandbox(companies=[company]) as box:
        box.xero_faults.drift = "change_type"
        [result] = extract_xero(_conn(box), tmp_path / "landing", "run-b")
    invoices = next(b for b in result.batches if b.entity == "invoices")
    landed = {r["record_id"]: r["payload"] for r in _landed(invoices)}
    assert landed[company.invoices[0]["InvoiceID"]]["FutureField"] == {"nested": [1, 2, 3]}
    assert all(isinstance(p["Total"], str) for p in landed.values())  # a changed type is kept, not coerced


def test_archived_contacts_are_carried_as_deletions(tmp_path):
    company = generate_demo_company(seed=3, as_of=AS_OF, n_customers=5)
    company.contacts[0]["ContactStatus"] = "ARCHIVED"
    with Sandbox(companies=[company]) as box:
        [result] = extract_xero(_conn(box), tmp_path / "landing", "run")
    contacts = {
        r["record_id"]: r["payload"] for r in _landed(next(b for b in result.batches if b.entity == "contacts"))
    }
    assert contacts[company.contacts[0]["ContactID"]]["ContactStatus"] == "ARCHIVED"


def test_boolean_query_values_are_the_specs_true_not_pythons_true(tmp_path):
    """The sandbox, like a mock serving Xero's OpenAPI spec, refuses includeArchived=True: the SDK's own
    serialisation of a Python bool would fail here, and the archived contact would never arrive."""
    import urllib.error
    import urllib.request

    with _small_box() as box:
        api = XeroApi(_conn(box), tmp_path / "token.json")
        api.authenticate()
        tenant = box.companies[0].tenant_id
        request = urllib.request.Request(
            f"{box.xero_url}/api.xro/2.0/Contacts?includeArchived=True",
            headers={"Authorization": f"Bearer {api._access}", "xero-tenant-id": tenant},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400 and b"includeArchived must be true or false" in refused.value.read()
        [contacts] = [s for s in STREAMS if s.entity == "contacts"]
        body = api.page(tenant, contacts, None, 1)
    assert len(body["Contacts"]) == len(box.companies[0].contacts)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ("connections", "Xero /connections: the answer is not the documented list of connections"),
        ("page", "Xero Organisations for organisation"),  # the first stream read
    ],
)
def test_an_answer_of_another_shape_is_a_clear_error_naming_the_endpoint(tmp_path, shape, message):
    with _small_box() as box:
        box.xero_faults.wrong_shape = shape
        with pytest.raises(XeroExtractError) as err:
            extract_xero(_conn(box), tmp_path / "landing", "run")
    assert message in str(err.value) and "got an object with keys" in str(err.value)
    assert not list((tmp_path / "landing").rglob("*.jsonl"))  # nothing of the odd answer was landed


def test_each_organisation_and_its_base_currency_is_extracted(tmp_path):
    company = generate_demo_company(seed=5, as_of=AS_OF, n_customers=4, base_currency="EUR")
    with Sandbox(companies=[company]) as box:
        [result] = extract_xero(_conn(box), tmp_path / "landing", "run")
    [organisation] = _landed(next(b for b in result.batches if b.entity == "organisations"))
    assert organisation["record_id"] == company.tenant_id
    assert organisation["payload"]["BaseCurrency"] == "EUR"
    served = {i["CurrencyCode"] for i in company.invoices}
    assert served == {"EUR", "GBP"}  # a euro organisation with some customers billed in pounds


def test_tenant_ids_extra_narrows_the_organisations(sandbox_env, tmp_path):
    only = sandbox_env.companies[1].tenant_id
    conn = connection_from_env("xero_default")
    results = extract_xero(replace(conn, extra={**conn.extra, "tenant_ids": [only]}), tmp_path / "l", "run-c")
    assert [r.tenant_id for r in results] == [only]


def test_wrong_secret_is_a_clear_error_without_the_secret(sandbox_env, tmp_path):
    conn = connection_from_env("xero_default")
    bad = replace(conn, password="definitely-wrong-secret")
    with pytest.raises(XeroAuthError) as err:
        extract_xero(bad, tmp_path / "landing", "run")
    assert "client id and secret" in str(err.value)
    assert "definitely-wrong-secret" not in str(err.value) and conn.password not in str(err.value)
    assert "definitely-wrong-secret" not in repr(bad)


def test_incremental_run_fetches_only_changes_in_one_call_per_stream(tmp_path):
    with _small_box() as box:
        conn = _conn(box)
        [full] = extract_xero(conn, tmp_path / "landing", "run-1")
        [quiet] = extract_xero(conn, tmp_path / "landing", "run-2")
        changed = [i for i in box.companies[0].invoices if i["Status"] == "AUTHORISED"][:3]
        for invoice in changed:
            invoice["AmountDue"] = invoice["AmountDue"] / 2
            invoice["UpdatedDateUTC"] = datetime.now(UTC)
        [third] = extract_xero(conn, tmp_path / "landing", "run-3")
    assert quiet.calls == len(STREAMS)  # the minimum: one call per stream
    assert sum(b.records for b in quiet.batches) < sum(b.records for b in full.batches) / 20  # overlap only
    assert {i["InvoiceID"] for i in changed} <= set(_ids([third]))
    db = tmp_path / "db.duckdb"
    load_landing(db, tmp_path / "landing")
    with duckdb.connect(str(db), read_only=True) as con:
        versions = con.execute("select count(*) - count(distinct record_id) from raw.xero_invoices").fetchone()[0]
    assert versions == 3  # each changed invoice gained exactly one new version; overlaps added nothing


def test_records_changing_while_paged_are_not_lost(tmp_path):
    with _small_box() as box:
        box.xero_faults.change_while_paging = True
        [result] = extract_xero(_conn(box, page_size=100), tmp_path / "landing", "run")
        expected = {i["InvoiceID"] for i in box.companies[0].invoices if i["Type"] == "ACCREC"}
    assert not box.xero_faults.change_while_paging  # the fault fired
    assert set(_ids([result])) == expected


def test_a_run_that_dies_half_way_resumes_without_gaps_or_duplicates(tmp_path):
    with _small_box() as box:
        conn = _conn(box, page_size=100)
        box.xero_faults.fail_after = 3  # invoices pages 1-3 land, then Xero keeps failing
        with pytest.raises(XeroExtractError, match=r"Invoices page \d+ .* failed with HTTP 500"):
            extract_xero(conn, tmp_path / "landing", "run-1")
        mark = CheckpointStore(tmp_path / "state").get("xero", box.companies[0].tenant_id, "invoices")
        assert mark is not None  # progress was saved page by page
        box.xero_faults.fail_after = None
        [result] = extract_xero(conn, tmp_path / "landing", "run-2")
        expected = {i["InvoiceID"] for i in box.companies[0].invoices if i["Type"] == "ACCREC"}
    assert result.status == "complete"
    db = tmp_path / "db.duckdb"
    load_landing(db, tmp_path / "landing")  # loads the dead run's pages too
    with duckdb.connect(str(db), read_only=True) as con:
        ids = [r[0] for r in con.execute("select record_id from raw.xero_invoices").fetchall()]
    assert sorted(ids) == sorted(expected)


def test_transient_500s_are_retried_by_the_transport(tmp_path):
    with _small_box() as box:
        box.xero_faults.error_500 = 2
        [result] = extract_xero(_conn(box), tmp_path / "landing", "run")
    assert result.status == "complete" and box.xero_faults.error_500 == 0


def test_minute_limit_429_waits_retry_after_and_completes(tmp_path):
    clock = SimulatedClock()
    with _small_box() as box:
        box.xero_faults.minute_429, box.xero_faults.retry_after = 2, 7
        [result] = extract_xero(_conn(box), tmp_path / "landing", "run", clock=clock)
    assert result.status == "complete" and box.xero_faults.minute_429 == 0
    assert clock.slept >= 14  # Retry-After honoured twice, by us (the transport does not sleep)


def test_day_limit_stops_that_organisation_with_a_checkpoint_and_others_go_on(sandbox, tmp_path):
    blocked, other = sandbox.companies
    sandbox.xero_faults.day_429_tenants.add(blocked.tenant_id)
    try:
        results = {r.tenant_id: r for r in extract_xero(_conn(sandbox), tmp_path / "landing", "run")}
    finally:
        sandbox.xero_faults.day_429_tenants.clear()
    assert results[blocked.tenant_id].status == "day_limit"
    assert "daily call limit" in results[blocked.tenant_id].message
    assert "next run continues" in results[blocked.tenant_id].message
    assert results[other.tenant_id].status == "complete"


def test_page_size_refused_falls_back_to_100(tmp_path):
    with _small_box() as box:
        box.xero_faults.refuse_page_size_above = 100
        [result] = extract_xero(_conn(box), tmp_path / "landing", "run")
        expected = {i["InvoiceID"] for i in box.companies[0].invoices if i["Type"] == "ACCREC"}
    assert set(_ids([result])) == expected


def test_expired_access_token_is_refreshed_and_the_call_retried(tmp_path):
    with _small_box() as box:
        conn = _conn(box)
        api = XeroApi(conn, tmp_path / "token.json")
        api.authenticate()
        box.xero_app.config["access_tokens"].clear()  # Xero expires every token early
        body = api.page(box.companies[0].tenant_id, STREAMS[-1], None, 1)
    assert body["Contacts"] and api.tokens.refreshes == 2


def test_rotating_refresh_token_is_persisted_and_survives_later_runs(tmp_path):
    with _small_box(xero_refresh_token="initial-refresh-token") as box:
        box.xero_faults.refresh_grace_seconds = 0  # a rotated token dies at once
        conn = _conn(box)
        for run in ("run-1", "run-2"):
            extract_xero(conn, tmp_path / "landing", run)
            box.xero_app.config["access_tokens"].clear()  # force a refresh next run
        token_file = tmp_path / "state" / "tokens" / "xero_default.json"
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert json.loads(token_file.read_text())["refresh_token"] != "initial-refresh-token"
        # The naive way (no store: the connection's first refresh token every time) ends in invalid_grant.
        with pytest.raises(XeroReconnectRequired) as err:
            extract_xero(conn, tmp_path / "landing", "run-3", state_root=tmp_path / "fresh-state")
    message = str(err.value)
    assert "Reconnect Xero" in message and "invalid_grant" in message
    assert not any(secret in message for secret in box.secrets())


def _refresh_in_process(conn_json: str, token_path: str) -> str:
    data = json.loads(conn_json)
    conn = ApiConnection("xero_default", data["login"], data["password"], None, data["extra"])
    return XeroApi(conn, Path(token_path)).tokens.access_token()


def test_concurrent_tasks_refresh_once_and_share_the_token(tmp_path):
    with _small_box(xero_refresh_token="initial-refresh-token") as box:
        box.xero_faults.refresh_grace_seconds = 0
        conn_json = box.airflow_connections()["AIRFLOW_CONN_XERO_DEFAULT"]
        with multiprocessing.get_context("fork").Pool(4) as pool:
            tokens = pool.starmap(_refresh_in_process, [(conn_json, str(tmp_path / "t.json"))] * 4)
        refreshes = box.xero_app.config["calls"]["refreshes"]
    assert len(set(tokens)) == 1 and refreshes == 1


def test_no_token_or_secret_in_logs(tmp_path, caplog):
    caplog.set_level("DEBUG")
    with _small_box(xero_refresh_token="initial-refresh-token") as box:
        box.xero_faults.minute_429 = 1
        extract_xero(_conn(box), tmp_path / "landing", "run", clock=SimulatedClock())
        secrets = box.secrets()
    assert len(secrets) >= 4 and caplog.text
    assert not any(secret in caplog.text for secret in secrets)


def test_slow_answers_within_the_timeout_succeed_and_hung_ones_fail_clearly(tmp_path):
    with _small_box() as box:
        box.xero_faults.delay_seconds = 0.2
        [slow] = extract_xero(_conn(box, timeout_seconds=5), tmp_path / "a", "run")
        box.xero_faults.delay_seconds = 1.5
        with pytest.raises(XeroExtractError, match="did not answer.*ReadTimeoutError|did not answer"):
            extract_xero(_conn(box, timeout_seconds=0.3), tmp_path / "b", "run", state_root=tmp_path / "s2")
    assert slow.status == "complete"


def test_duplicated_records_in_a_page_land_once(tmp_path):
    with _small_box() as box:
        box.xero_faults.duplicate_first_record = True
        [result] = extract_xero(_conn(box), tmp_path / "landing", "run")
        expected = {i["InvoiceID"] for i in box.companies[0].invoices if i["Type"] == "ACCREC"}
    ids = _ids([result])
    assert sorted(ids) == sorted(expected)  # each once


def test_a_removed_field_is_landed_as_sent(tmp_path):
    with _small_box() as box:
        box.xero_faults.drift = "remove_field"
        [result] = extract_xero(_conn(box), tmp_path / "landing", "run")
    invoices = next(b for b in result.batches if b.entity == "invoices")
    assert all("Reference" not in r["payload"] for r in _landed(invoices))


def test_the_online_invoice_link_is_read_through_the_sdk_and_refused_for_a_voided_invoice(tmp_path):
    with _small_box() as box:
        company = box.companies[0]
        api = XeroApi(_conn(box), tmp_path / "token.json")
        sent = next(i for i in company.invoices if i["Type"] == "ACCREC" and i["Status"] == "AUTHORISED")
        voided = next(i for i in company.invoices if i["Type"] == "ACCREC" and i["Status"] == "VOIDED")
        url = api.online_invoice_url(company.tenant_id, sent["InvoiceID"])
        with pytest.raises(XeroExtractError, match="HTTP 400"):
            api.online_invoice_url(company.tenant_id, voided["InvoiceID"])
    assert url.startswith("https://in.xero.com/") and len(url) > len("https://in.xero.com/") + 20
