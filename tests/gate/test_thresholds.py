"""Warnings and criticality thresholds of the gate, each on a warehouse rebuilt by dbt after damaging raw data
(kept apart from test_validate.py so the two run side by side)."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from ar_radar.gate.validate import validate
from ar_radar.warehouse.build import build_models

from tests.conftest import AS_OF, make_settings


@pytest.mark.parametrize(("share", "severity"), [(0.05, "warning"), (0.15, "critical")])
def test_missing_required_field_is_a_warning_above_1_percent_and_critical_above_10(
    warehouse, tmp_path, share, severity
):
    settings = make_settings(tmp_path)
    shutil.copy(warehouse.db_path, settings.db_path)
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute(
            """
            insert into raw.xero_invoices
            select source, entity, tenant_id, record_id, updated_at, record_hash || '-nocontact', 'no-contact',
                   extracted_at + interval 1 hour, json_merge_patch(payload, '{"Contact": {"ContactID": null}}'), now(),
                   record_key
            from raw.xero_invoices_current
            where payload->>'Type' = 'ACCREC' and hash(record_id) % 1000 < ?""",
            [int(share * 1000)],
        )
    build_models(settings, AS_OF, "stg_xero__invoices+")  # only what the damaged stream feeds
    report = validate(settings.db_path, settings.gx_root, f"missing-{severity}", AS_OF)
    failed = {(c.table, c.column, c.severity) for c in report.checks if not c.success}
    assert ("stg_xero__invoices", "contact_id", "warning") in failed
    assert (("stg_xero__invoices", "contact_id", "critical") in failed) == (severity == "critical")
    assert report.passed == (severity == "warning")
    [check] = [c for c in report.checks if not c.success and c.severity == severity and c.column == "contact_id"]
    allowed = "up to 1% of rows" if severity == "warning" else "up to 10% of rows"
    assert allowed in check.describe()


def test_unmatched_open_ar_is_a_warning(warehouse, tmp_path):
    settings = make_settings(tmp_path)
    shutil.copy(warehouse.db_path, settings.db_path)
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute("delete from raw.hubspot_companies")  # a copy: as if the CRM sync had lost every company
        con.execute("delete from raw.hubspot_contacts")
    # what the lost CRM feeds, in full: raw rows taken away (never in production) are invisible to an incremental build
    build_models(settings, AS_OF, "stg_hubspot__companies+ stg_hubspot__contacts+", full_refresh=True)
    report = validate(settings.db_path, settings.gx_root, "unmatched", AS_OF)
    failed = [c for c in report.checks if not c.success]
    assert [(c.table, c.severity) for c in failed] == [("matching_coverage", "warning")]
    assert failed[0].unexpected_count == 2 and "values of at least 0.75" in failed[0].describe()
