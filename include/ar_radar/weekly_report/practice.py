"""The practice's overview: every organisation of every shard side by side, read from the Parquet files each shard
publishes (``warehouse.publish``), never from another shard's DuckDB file (each has one writer)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ar_radar import database
from ar_radar.warehouse.publish import PUBLISHED

OVERVIEW = """
with organisations as (
    select *, regexp_extract(filename, '([^/]+)/organisations\\.parquet$', 1) as shard
    from read_parquet('{folder}/*/organisations.parquet', filename = true)
),
aging as (
    select tenant_id, max(as_of_date) as as_of_date, count(*) as open_invoices,
           sum(amount_due_base) as open_ar_base,
           sum(amount_due_base) filter (where days_overdue > 0) as overdue_ar_base
    from read_parquet('{folder}/*/ar_aging.parquet') group by tenant_id
),
risk as (
    select tenant_id, sum(amount_due_base) filter (where risk_band = 'high') as high_risk_ar_base
    from read_parquet('{folder}/*/invoice_risk_scores.parquet') group by tenant_id
),
months as (
    select tenant_id, arg_max(dso_standard_days, month_start) as dso_last_month
    from read_parquet('{folder}/*/ar_monthly_metrics.parquet') where is_complete_month group by tenant_id
)
select o.shard, o.organisation_name, o.tenant_id, o.base_currency, a.as_of_date,
       coalesce(a.open_invoices, 0) as open_invoices, coalesce(a.open_ar_base, 0) as open_ar_base,
       coalesce(a.overdue_ar_base, 0) as overdue_ar_base,
       round(100 * coalesce(a.overdue_ar_base, 0) / nullif(a.open_ar_base, 0), 1) as overdue_percent,
       coalesce(r.high_risk_ar_base, 0) as high_risk_ar_base, round(m.dso_last_month, 1) as dso_last_month
from organisations o
left join aging a using (tenant_id)
left join risk r using (tenant_id)
left join months m using (tenant_id)
order by o.shard, o.organisation_name
"""


class NothingPublished(RuntimeError):
    """No shard has published its marts yet."""


@dataclass(frozen=True)
class Overview:
    rows: list[dict]

    def csv(self) -> str:
        out = io.StringIO()
        if self.rows:
            writer = csv.DictWriter(out, fieldnames=list(self.rows[0]))
            writer.writeheader()
            writer.writerows(self.rows)
        return out.getvalue()


def practice_overview(published: Path) -> Overview:
    """One row per organisation across every shard's published files, by shard and name."""
    missing = [n for n in PUBLISHED if not any(published.glob(f"*/{n}.parquet"))]
    if missing:
        raise NothingPublished(
            f"No shard has published {', '.join(missing)} under {published}: run the daily DAG of each shard "
            "(its publish_marts task writes them) and try again."
        )
    with database.connect(":memory:", read_only=False) as con:  # in memory: the shards' files are only read
        cursor = con.execute(OVERVIEW.format(folder=published.as_posix()))
        names = [d[0] for d in cursor.description]
        return Overview([dict(zip(names, row, strict=True)) for row in cursor.fetchall()])
