"""Benchmark: the daily run's growth curve. At 100,000, 1,000,000 and 3,000,000 invoices (200 organisations, 20
invoices per customer, ~3 payments per invoice), the cost of a day with 1 % of the records changed should stay
nearly flat while the full rebuild grows with the history.

    .venv/bin/python bench/daily_growth.py [--sizes 100000 1000000 3000000] [--days 2] [--day-records N [N ...]]

``--day-records N`` makes every size's day the same size instead of 1 % of its records: it changes the share N /
(invoices + payments + contacts) of them (about N new versions for the ``amounts`` and ``reference`` kinds, about
half as many for ``paid``, which pays that share of the invoices with one new payment each and edits that share of
the contacts): the same day on a longer history, which is what "follows the day's changes, not the history" claims.
Several values run ``--days`` days of each, one after another on the size's copy: at one history, the cost as a
function of the day's changes (``--sizes 1000000 --day-records 1000 10000 100000 400000``).

``--customers N`` keeps the business the same at every size: N customers, each invoiced 10 times a year, so a
size's invoices are a longer history (100,000 invoices of 10,000 customers: one year; 3,000,000: thirty), and the
open invoices, customers and HubSpot records a morning scores and ages stay the same. Without it the customers grow
with the invoices (20 each, over two years): a business 30 times larger, whose every-morning outputs (aging, today's
features and scores) are 30 times larger too.

Per size, on a copy of the cached synthetic raw tables (bench/scale_data.py), each step in a fresh child
process with its own peak memory: ``full`` = ``build_warehouse(full_refresh=True)`` and a first gate that keeps
its row verdicts (timed apart); then ``--days`` consecutive days on the same file, each loading a day of
bench/incremental_build.py's ``--kind`` (default ``paid``: open invoices, as many as 1 % of the invoices, paid in
full on the day by a new payment each, and 1 % of the contacts edited; ``next``: the same, each day built for the
next as_of_date, as the daily DAG does; ``amounts`` and ``reference`` change 1 % of the invoices, payments and
contacts) and timing the incremental ``build_warehouse`` and the incremental gate.
The gates store their results in the size's own copy of the GX project (bench/gx_project.py).
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
from pathlib import Path

from peak_memory import peak_mib, reset_peak

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from gx_project import gx_project  # noqa: E402
from incremental_build import AS_OF, DAYS, _settings, change, day_as_of  # noqa: E402


def _day_percent(db: Path) -> float:
    """1 %, or the share of the records that makes a day of about BENCH_DAY_RECORDS new versions."""
    import duckdb

    wanted = int(os.environ.get("BENCH_DAY_RECORDS") or 0)
    if not wanted:
        return 1.0
    with duckdb.connect(str(db), read_only=True) as con:
        [(records,)] = con.execute(
            "select (select count(*) from raw.xero_invoices_current) + (select count(*) from raw.xero_payments_current)"
            " + (select count(*) from raw.xero_contacts_current)"
        ).fetchall()
    return 100.0 * wanted / records


def child(folder: Path, step: str) -> None:
    import duckdb
    from ar_radar.gate import incremental
    from ar_radar.gate.validate import validate
    from ar_radar.warehouse.build import build_warehouse

    settings = _settings(folder)
    kind = os.environ.get("BENCH_DAY_KIND", "paid")
    # `next` days move on a day each (day-0 is the morning after the full build), the others stay on AS_OF
    as_of = AS_OF if step == "full" else day_as_of(kind, int(step.removeprefix("day-")) + 1)
    if step != "full":
        added = change(settings.db_path, _day_percent(settings.db_path), kind)
        with duckdb.connect(str(settings.db_path)) as con:  # the next day's versions must not look like today's
            con.execute("update raw.xero_invoices set run_id = 'bench-' || loaded_at where run_id = 'bench-day'")
            con.execute("update raw.xero_payments set run_id = 'bench-' || loaded_at where run_id = 'bench-day'")
            con.execute("update raw.xero_contacts set run_id = 'bench-' || loaded_at where run_id = 'bench-day'")
    reset_peak()  # from here on: the build's own peak, then the gate's
    start = time.perf_counter()
    summary = build_warehouse(settings, as_of, full_refresh=step == "full")
    build_seconds = time.perf_counter() - start
    build_peak = peak_mib()
    reset_peak()
    assert summary.full_refresh == (step == "full"), summary.reason
    start = time.perf_counter()
    run_id = f"bench-{time.time_ns()}"
    report = validate(settings.db_path, gx_project(folder), run_id, as_of)
    incremental.remember(settings.db_path, run_id, report.row_states, report.raw_counts)
    gate_seconds = time.perf_counter() - start
    gate_peak = peak_mib()
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        [(touched, customers)] = con.execute(
            "select (select count(*) from intermediate.int_touched_customers), "
            "(select count(distinct (tenant_id, contact_id)) from intermediate.int_sales_invoices)"
        ).fetchall()
    print(
        json.dumps(
            {
                "seconds": build_seconds + gate_seconds,
                "build_seconds": build_seconds,
                "gate_seconds": gate_seconds,
                "peak_mib": max(build_peak, gate_peak),
                "build_peak_mib": build_peak,
                "gate_peak_mib": gate_peak,
                "versions_added": 0 if step == "full" else added,
                "touched": touched,
                "customers": customers,
                "rows_validated": {s.table: s.rows_validated for s in report.row_states},
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 3_000_000])
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument(
        "--day-records", type=int, nargs="+", default=[0], help="the same day at every size (0: 1 %% of it)"
    )
    parser.add_argument("--kind", default="paid", choices=DAYS, help="bench/incremental_build.py's day")
    parser.add_argument("--customers", type=int, default=0, help="the same customers at every size")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1])
        return
    os.environ["BENCH_DAY_KIND"] = args.kind

    from scale_data import Scale, cached_raw, run_child

    def day(records: int) -> str:
        return f"{records:,} asked" if records else "1 %"

    rows = []
    for invoices in args.sizes:
        scale = Scale.of_history(invoices, args.customers) if args.customers else Scale.of_invoices(invoices)
        start = time.perf_counter()
        raw = cached_raw(scale=scale)
        print(f"{invoices:,} invoices: raw tables ready in {time.perf_counter() - start:.0f} s", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            shutil.copy(raw, folder / "ar_radar.duckdb")
            full = run_child(__file__, folder, "full")
            number = 0  # the days follow one another on the file (`next` days move on a day each)
            for records in args.day_records:
                os.environ["BENCH_DAY_RECORDS"] = str(records)
                days = []
                for _ in range(args.days):
                    days.append(run_child(__file__, folder, f"day-{number}"))
                    number += 1
                rows.append((invoices, full, records, days))
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"date: {time.strftime('%Y-%m-%d')}  days per size: {args.days}  "
        f"changed per day: {', '.join(day(r) for r in args.day_records)} ({args.kind})  "
        f"threads: {os.environ.get('AR_RADAR_THREADS', 'default')}"
    )
    business = f"{args.customers:,} customers, history growing" if args.customers else "20 invoices a customer"
    print(f"business: {business}")
    print(
        "invoices | full build s | full gate s | full peak MiB | day | day build s | day gate s | day peak MiB | "
        "versions per day | customers recomputed"
    )
    for invoices, full, records, days in rows:
        build = statistics.median(d["build_seconds"] for d in days)
        gate = statistics.median(d["gate_seconds"] for d in days)
        peak = max(d["peak_mib"] for d in days)
        print(
            f"{invoices:,} | {full['build_seconds']:.1f} | {full['gate_seconds']:.1f} | {full['peak_mib']:.0f} | "
            f"{day(records)} | {build:.1f} | {gate:.1f} | {peak:.0f} | {days[-1]['versions_added']:,} | "
            f"{days[-1]['touched']:,} of {days[-1]['customers']:,}"
        )
    print("peaks of each step (MiB): full build / full gate / day builds / day gates")
    for invoices, full, records, days in rows:
        builds = " ".join(f"{d['build_peak_mib']:.0f}" for d in days)
        gates = " ".join(f"{d['gate_peak_mib']:.0f}" for d in days)
        print(
            f"{invoices:,} ({day(records)}) | {full['build_peak_mib']:.0f} | {full['gate_peak_mib']:.0f} | "
            f"{builds} | {gates}"
        )


if __name__ == "__main__":
    main()
