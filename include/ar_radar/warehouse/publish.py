"""A shard's marts as Parquet files, for reports across shards (one DuckDB file per shard has one writer, so
nothing reads another shard's file; Parquet is built into DuckDB, no extension to download).

Each file is written beside its final name and renamed over it, so a reader sees the previous day's file or
today's, never half of one. Only organisations the shard owns are published.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ar_radar import database

# name -> the rows published (``{as_of}`` is the day, a date literal); one definition for writer and readers.
PUBLISHED: dict[str, str] = {
    "organisations": "select tenant_id, organisation_name, base_currency from staging.stg_xero__organisations",
    "ar_aging": "select * from marts.fct_ar_aging",
    "ar_monthly_metrics": "select * from marts.fct_ar_monthly_metrics",
    "invoice_risk_scores": "select * from scoring.invoice_risk_scores where as_of_date = {as_of}",
}


@dataclass(frozen=True)
class Published:
    folder: Path
    rows: dict[str, int]


def publish_marts(
    db_path: Path, as_of: date, folder: Path, owns: Callable[[str, str | None], bool] | None = None
) -> Published:
    """Write each of PUBLISHED to ``folder/<name>.parquet`` (only the organisations ``owns`` accepts)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    with database.connect(db_path, read_only=True) as con:
        organisations = database.rows(con, "select tenant_id, organisation_name from staging.stg_xero__organisations")
        kept = [o["tenant_id"] for o in organisations if owns is None or owns(o["tenant_id"], o["organisation_name"])]
        con.execute("create temp table published_tenants (tenant_id varchar)")
        if kept:
            con.executemany("insert into published_tenants values (?)", [[t] for t in kept])
        for name, select in PUBLISHED.items():
            target = folder / f"{name}.parquet"
            partial = folder / f".{name}.parquet.writing"
            rows_of = select.format(as_of=f"date '{as_of.isoformat()}'")
            # ids as text in the files: a Parquet UUID reaches pandas or a BI tool as 16 bytes
            query = database.with_text_ids(
                con, f"select * from ({rows_of}) where tenant_id::varchar in (select tenant_id from published_tenants)"
            )
            con.execute(f"copy ({query}) to '{partial}' (format parquet, compression zstd)")
            os.replace(partial, target)
            [(count,)] = con.execute(f"select count(*) from read_parquet('{target}')").fetchall()
            rows[name] = count
    return Published(folder, rows)
