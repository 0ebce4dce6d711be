"""The Xero sandbox speaks Xero's wire format: the SDK's own models parse it."""

from datetime import UTC, datetime, timedelta

import pytest
from ar_radar.extract.connections import connection_from_env
from ar_radar.extract.xero import XeroApi
from xero_python.exceptions import HTTPStatusException


@pytest.fixture
def api(sandbox_env, tmp_path):
    api = XeroApi(connection_from_env("xero_default"), tmp_path / "token.json")
    api.authenticate()
    return api


def test_sdk_models_parse_xero_dates_and_pagination(sandbox_env, api):
    company = sandbox_env.companies[0]
    page = api.accounting.get_invoices(company.tenant_id, page=1, page_size=100, where='Type=="ACCREC"')
    assert len(page.invoices) == 100
    assert page.pagination.page_count == -(-page.pagination.item_count // 100)
    by_id = {i["InvoiceID"]: i for i in company.invoices}
    for invoice in page.invoices[:10]:
        source = by_id[str(invoice.invoice_id)]
        assert invoice.date == source["Date"] and invoice.due_date == source["DueDate"]
        assert invoice.updated_date_utc.replace(tzinfo=UTC) == source["UpdatedDateUTC"].replace(microsecond=0)


def test_if_modified_since_returns_only_newer_records_oldest_first(sandbox_env, api):
    company = sandbox_env.companies[0]
    since = datetime.combine(company.as_of - timedelta(days=30), datetime.min.time())
    page = api.accounting.get_invoices(
        company.tenant_id, if_modified_since=since, order="UpdatedDateUTC ASC", page=1, page_size=1000
    )
    expected = [i for i in company.invoices if i["UpdatedDateUTC"] > since.replace(tzinfo=UTC)]
    assert 0 < len(page.invoices) == len(expected) < len(company.invoices)
    stamps = [i.updated_date_utc for i in page.invoices]
    assert stamps == sorted(stamps)


def test_page_size_above_1000_is_refused(sandbox_env, api):
    with pytest.raises(HTTPStatusException) as err:
        api.accounting.get_invoices(sandbox_env.companies[0].tenant_id, page=1, page_size=1001)
    assert err.value.status == 400


def test_limit_headers_count_down(sandbox_env, api):
    tenant = sandbox_env.companies[0].tenant_id
    _, _, first = api.accounting.get_contacts(tenant, page=1, _preload_content=False, _return_http_data_only=False)
    _, _, second = api.accounting.get_contacts(tenant, page=1, _preload_content=False, _return_http_data_only=False)
    assert int(second["X-DayLimit-Remaining"]) == int(first["X-DayLimit-Remaining"]) - 1
    assert int(second["X-MinLimit-Remaining"]) <= int(first["X-MinLimit-Remaining"])
