"""Benchmark: the daily warehouse build when 1 % of the records changed, against a full rebuild, at 1,000,000
invoices (incremental staging, and the customer models recomputing only the customers touched).

    .venv/bin/python bench/incremental_build.py [--repeat 3] [--small] [--changed-percent 1]

From the cached synthetic raw tables of bench/warehouse_scale.py (200 organisations, ~3M payments), a first full
build (untimed); then, each run in a fresh child process on a fresh copy of that built folder, a day's new version
of ``--changed-percent`` of the invoices, payments and contacts (a random sample, loaded now) and
``build_warehouse``: ``reference`` changes only their Reference (what Xero re-sends after an edit no AR figure
depends on), ``amounts`` changes the invoices' AmountDue and the payments' Amount (the aging and the settlements
read them, no customer model does), ``paid`` pays open invoices, as many as ``--changed-percent`` of the invoices,
in full on the day by a new payment each (a day's ordinary change: each touches its customer's history from that day
on); ``next`` is the ``paid`` day built for the next as_of_date, as the daily DAG builds it the morning after (the
same payments, dated AS_OF; what fell overdue, was dated or was paid on AS_OF counts as well, and every customer's
features move on a day); ``full`` runs ``build_warehouse(full_refresh=True)`` on the same data. Wall time, the
child's own peak memory, how many customers the incremental build recomputed, and whether dbt reused its saved
parse.

Every build runs at the same path (the copy is put back in one folder): the DuckDB path is part of dbt's profile,
and a profile that changed makes dbt parse the whole project again (~3-4 s), which a pipeline host, whose path
stays the same from one day to the next, never pays.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from ar_radar.extract.xero_dates import xero_date
from ar_radar.local.sandbox.wire import guid_sql
from ar_radar.raw.store import record_key_sql
from peak_memory import peak_mib

BENCH = Path(__file__).resolve().parent
AS_OF = date(2026, 11, 20)
STREAMS = ("xero_invoices", "xero_payments", "xero_contacts")


def _settings(folder: Path):  # noqa: ANN202
    from ar_radar.settings import Settings

    return replace(Settings.from_env(), data_dir=folder, db_path=folder / "ar_radar.duckdb")


_XERO_AS_OF = xero_date(AS_OF)
# Contacts have no Reference: their Website (listed as known in checks.yml, read by no model) stands in.
UNREAD_EDIT = {t: """'{"Reference": "changed"}'""" for t in STREAMS}
UNREAD_EDIT["xero_contacts"] = """'{"Website": "changed.example"}'"""
PATCHES = {
    "reference": UNREAD_EDIT,
    "amounts": {
        "xero_invoices": "json_object('AmountDue', round(try_cast(payload->>'AmountDue' as double) * 0.5, 2))",
        "xero_payments": "json_object('Amount', round(try_cast(payload->>'Amount' as double) + 1, 2))",
        "xero_contacts": UNREAD_EDIT["xero_contacts"],
    },
}
DAYS = (*PATCHES, "paid", "next")

# The `paid` day: open invoices, as many as `percent` of all invoices, paid in full on AS_OF, each by a new payment.
PAID_INVOICES = """
    create temp table paid as
    select * from raw.xero_invoices_current
    where payload->>'Type' = 'ACCREC' and payload->>'Status' = 'AUTHORISED'
    order by hash(record_id)
    limit (select round(count(*) * {percent} / 100) from raw.xero_invoices_current)
"""
_PAYMENT_ID = guid_sql("record_id || '-paid'")  # the new payment's id, a GUID like every Xero id of the data
PAID_VERSIONS = {
    "xero_invoices": f"""
        select source, entity, tenant_id, record_id, updated_at, record_hash || '-bench', 'bench-day',
               extracted_at + interval 1 day,
               json_merge_patch(payload, json_object('Status', 'PAID', 'AmountDue', 0,
                   'AmountPaid', payload->'Total', 'FullyPaidOnDate', '{_XERO_AS_OF}')), now(), record_key
        from paid""",
    "xero_payments": f"""
        select 'xero', 'payments', tenant_id, {_PAYMENT_ID}, '{AS_OF}', record_hash || '-paid', 'bench-day',
               extracted_at + interval 1 day,
               json_object('PaymentID', {_PAYMENT_ID}, 'Date', '{_XERO_AS_OF}', 'Amount', payload->'AmountDue',
                   'CurrencyRate', payload->'CurrencyRate', 'PaymentType', 'ACCRECPAYMENT', 'Status', 'AUTHORISED',
                   'Invoice', json_object('InvoiceID', record_id, 'Contact', payload->'Contact')), now(),
               {record_key_sql(record_id=_PAYMENT_ID)}
        from paid""",
}


def day_as_of(kind: str, days_after: int = 1) -> date:
    """The as_of_date a day's build runs for: the base's, or for ``next`` ``days_after`` days later."""
    return AS_OF + timedelta(days=days_after) if kind == "next" else AS_OF


def change(db: Path, percent: float, kind: str = "reference") -> int:
    """New versions of ``percent`` of each stream's records, as a day's extract would load them."""
    import duckdb

    kind = "paid" if kind == "next" else kind
    added = 0
    with duckdb.connect(str(db)) as con:
        if kind == "paid":
            con.execute(PAID_INVOICES.format(percent=percent))
        for table in STREAMS:
            if kind == "paid" and table in PAID_VERSIONS:
                con.execute(f"insert into raw.{table} {PAID_VERSIONS[table]}")
            else:
                patch = PATCHES["reference" if kind == "paid" else kind][table]
                con.execute(f"""
                    insert into raw.{table}
                    select source, entity, tenant_id, record_id, updated_at, record_hash || '-bench', 'bench-day',
                           extracted_at + interval 1 day, json_merge_patch(payload, {patch}), now(), record_key
                    from raw.{table}_current using sample {percent} percent (bernoulli, 7)""")
            added += con.execute(f"select count(*) from raw.{table} where run_id = 'bench-day'").fetchone()[0]
    return added


def child(folder: Path, step: str) -> None:
    import duckdb
    from ar_radar.warehouse.build import build_warehouse

    settings = _settings(folder)
    percent = float(os.environ["BENCH_CHANGED_PERCENT"])
    added = change(settings.db_path, percent, step) if step != "full" else 0
    start = time.perf_counter()
    summary = build_warehouse(settings, day_as_of(step), full_refresh=step == "full")
    seconds = time.perf_counter() - start
    assert summary.full_refresh == (step == "full"), summary.reason
    log = (settings.data_dir / "dbt" / "logs" / "dbt.log").read_text(encoding="utf-8")
    parse_reused = "Unable to do partial parsing" not in log.rsplit("Running with dbt=", 1)[1]
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        [(touched,)] = con.execute("select count(*) from intermediate.int_touched_customers").fetchall()
        this_build = "where built_at = (select max(built_at) from ops.warehouse_build_nodes)"
        by_kind = dict(
            con.execute(
                f"select resource_type, sum(seconds) from ops.warehouse_build_nodes {this_build} group by all"
            ).fetchall()
        )
        slowest = con.execute(
            f"select unique_id, seconds from ops.warehouse_build_nodes {this_build} order by seconds desc limit 8"
        ).fetchall()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mib": peak_mib(),
                "versions_added": added,
                "touched": touched,
                "parse_reused": parse_reused,
                "dbt_seconds_by_kind": {k: round(v, 1) for k, v in by_kind.items()},
                "slowest_nodes": {unique_id.split(".")[-1]: round(seconds, 1) for unique_id, seconds in slowest},
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="a 4,000-invoice smoke run")
    parser.add_argument("--changed-percent", type=float, default=1.0)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1])
        return

    sys.path.insert(0, str(BENCH))
    from scale_data import Scale, cached_raw, run_child

    os.environ["BENCH_CHANGED_PERCENT"] = str(args.changed_percent)
    scale = Scale.small() if args.small else Scale()
    raw = cached_raw(args.small)
    with tempfile.TemporaryDirectory() as tmp:
        run, built = Path(tmp) / "run", Path(tmp) / "built"  # every build runs in `run`; `built` keeps the start
        run.mkdir()
        shutil.copy(raw, run / "ar_radar.duckdb")
        from ar_radar.warehouse.build import build_warehouse

        start = time.perf_counter()
        build_warehouse(_settings(run), AS_OF, full_refresh=True)
        print(f"first full build (untimed) {time.perf_counter() - start:.0f} s", flush=True)
        shutil.copytree(run, built)
        results: dict[str, list[dict]] = {day: [] for day in (*DAYS, "full")}
        for _ in range(args.repeat):
            for step in results:
                shutil.rmtree(run)
                shutil.copytree(built, run)
                results[step].append(run_child(__file__, run, step))
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d')}  scale: {scale}  runs: {args.repeat}  changed: {args.changed_percent} %")
    print(f"versions added per incremental run: {results['reference'][0]['versions_added']:,}")
    medians = {}
    for step, runs in results.items():
        secs = [r["seconds"] for r in runs]
        medians[step] = statistics.median(secs)
        peak = max(r["peak_mib"] for r in runs)
        print(
            f"{step:<10} median {medians[step]:.1f} s (min {min(secs):.1f}, max {max(secs):.1f}), peak {peak:.0f} MiB, "
            f"customers recomputed {runs[-1]['touched']:,}, dbt reused its parse in "
            f"{sum(r['parse_reused'] for r in runs)} of {len(runs)} runs"
        )
        print(f"  dbt seconds by kind (last run): {runs[-1]['dbt_seconds_by_kind']}")
        print(f"  slowest nodes (last run): {runs[-1]['slowest_nodes']}")
    for step in DAYS:
        print(f"full / {step}: {medians['full'] / medians[step]:.2f}x")


if __name__ == "__main__":
    main()
