"""The model's inputs are columns of dbt's feature mart, and none of them is known only after the issue day."""

from __future__ import annotations

import duckdb
import pandas as pd
import yaml
from ar_radar.scoring.features import ACCOUNTING_FEATURES, CRM_FEATURES, warehouse_history
from ar_radar.warehouse.build import build_models

from tests.conftest import AS_OF, copy_of


def test_every_input_is_a_documented_feature_column_of_the_mart(warehouse):
    spec = yaml.safe_load((warehouse.dbt_project_dir / "models/marts/invoice_features_history.yml").read_text())
    columns = {c["name"]: c for c in spec["models"][0]["columns"]}
    inputs = set(ACCOUNTING_FEATURES + CRM_FEATURES)
    assert inputs <= set(columns)
    assert not any(name.startswith("label_") for name in inputs)
    _, optional = warehouse_history(warehouse.db_path)
    assert "disputed" not in optional and "label_disputed" not in optional


def test_a_dispute_raised_on_or_after_the_issue_day_changes_none_of_the_inputs(warehouse, tmp_path):
    """Remove every dispute ticket raised after the invoice it names was issued, and rebuild: each invoice issued
    on or before the day its customer's first removed ticket was raised has the same inputs to the last digit.
    What happened from the issue day on is never an input (the score is a score at issue)."""
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        removed = con.sql(
            """select distinct d.ticket_id, d.tenant_id, i.contact_id, cast(d.disputed_at as date) as raised_on
               from intermediate.int_invoice_disputes d
               join intermediate.int_sales_invoices i using (tenant_id, invoice_id)
               where cast(d.disputed_at as date) > i.invoice_date"""
        ).df()
    assert removed["ticket_id"].nunique() >= 3
    first_raised = removed.groupby(["tenant_id", "contact_id"])["raised_on"].min()
    without = copy_of(warehouse, tmp_path)
    with duckdb.connect(str(without.db_path)) as con:
        con.execute(
            "delete from raw.hubspot_tickets where record_id in (select unnest(?))", [list(removed["ticket_id"])]
        )
    build_models(without, AS_OF, "+invoice_features_history", full_refresh=True)  # raw rows taken away: in full
    columns = ", ".join(ACCOUNTING_FEATURES + CRM_FEATURES)

    def inputs(settings, issued_after: bool = False) -> pd.DataFrame:  # noqa: ANN001
        with duckdb.connect(str(settings.db_path), read_only=True) as con:
            frame = con.sql(
                f"select tenant_id, contact_id, invoice_id, invoice_date, {columns} from marts.invoice_features_history"
            ).df()
        limit = pd.to_datetime(frame.join(first_raised, on=["tenant_id", "contact_id"])["raised_on"])
        issued = pd.to_datetime(frame["invoice_date"])
        mine = frame[issued > limit + pd.Timedelta(days=1)] if issued_after else frame[issued <= limit]
        return mine.sort_values(["tenant_id", "invoice_id"]).reset_index(drop=True)

    before, after = inputs(warehouse), inputs(without)
    assert len(before) > 100  # the affected customers' invoices up to their first later dispute
    pd.testing.assert_frame_equal(before, after)
    # not a vacuous equality: the removed tickets are inputs of the invoices issued after they were raised
    counts = ["recent_dispute_text_count", "open_dispute_count", "open_ticket_count"]
    later_before, later_after = inputs(warehouse, True), inputs(without, True)
    assert later_before[counts].to_numpy().sum() > later_after[counts].to_numpy().sum()
