"""Benchmark: Xero and HubSpot extraction, API calls and time against what the limits allow.

    .venv/bin/python bench/extract_limits.py [--invoices-per-org 20000] [--organisations 5]

1. Calls: full and incremental syncs of every stream, against the minimum possible (one call per
   page of records that changed, per stream and organisation; an empty stream still costs one call).
2. Backfill at Xero's real limits (60 calls a minute per organisation), on a simulated clock shared
   by the sandbox and the extractor: simulated wall time against the minimum the limits allow, and
   failed (429 or 5xx) calls. Page size 100 (Xero's fallback) so the minute limit binds. Organisations
   run in parallel in the DAG (mapped tasks) and have separate limits, so the backfill's wall time is
   the slowest organisation's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from ar_radar.extract.connections import ApiConnection
from ar_radar.extract.hubspot import extract_hubspot
from ar_radar.extract.rate_limit import SimulatedClock
from ar_radar.extract.xero import STREAMS, extract_xero
from ar_radar.local.sandbox.demo_company import generate_demo_company
from ar_radar.local.sandbox.server import Sandbox

AS_OF = date(2026, 11, 20)
CUSTOMERS_PER_1000_INVOICES = 35  # the generator makes about 28 invoices per customer over two years


def conn(box: Sandbox, source: str, **extra) -> ApiConnection:
    raw = json.loads(box.airflow_connections()[f"AIRFLOW_CONN_{source.upper()}_DEFAULT"])
    return ApiConnection(f"{source}_default", raw.get("login"), raw["password"], None, {**raw["extra"], **extra})


def minimum_calls(sizes: list[int], page: int) -> int:
    return sum(max(1, math.ceil(n / page)) for n in sizes)


def calls_benchmark(organisations: int) -> None:
    print("## API calls, full and incremental sync")
    with tempfile.TemporaryDirectory() as tmp, Sandbox(as_of=AS_OF, organisations=organisations) as box:
        landing, state = Path(tmp) / "landing", Path(tmp) / "state"
        full = extract_xero(conn(box, "xero"), landing, "full", state)
        minimum_full = sum(minimum_calls(list(c.xero_stream_sizes().values()), 1000) for c in box.companies)
        quiet = extract_xero(conn(box, "xero"), landing, "quiet", state)
        changed = 0
        for company in box.companies:  # 1 % of invoices change between runs
            for invoice in company.invoices[::100]:
                invoice["UpdatedDateUTC"] = datetime.now(UTC)
                changed += 1
        incremental = extract_xero(conn(box, "xero"), landing, "incremental", state)
        minimum_incremental = len(STREAMS) * organisations  # < 1000 changes per stream: one page each
        print(f"xero full sync        : {sum(r.calls for r in full)} calls, minimum {minimum_full}")
        print(f"xero no-change sync   : {sum(r.calls for r in quiet)} calls, minimum {len(STREAMS) * organisations}")
        print(
            f"xero 1% changed ({changed} invoices): {sum(r.calls for r in incremental)} calls, "
            f"minimum {minimum_incremental}"
        )
        stats = box.hubspot_app.config["stats"]
        extract_hubspot(conn(box, "hubspot"), landing, "full", state)
        full_calls = stats["calls"]
        objects = {k: len(v) for k, v in box.hubspot_app.config["objects"].items()}
        extract_hubspot(conn(box, "hubspot"), landing, "quiet", state)
        # Minimum: one search per 200 records (one per type when empty), one association batch per 1000
        # records of each associated type, one archived listing per type (search cannot see deletions).
        minimum_hs = sum(max(1, math.ceil(n / 200)) for n in objects.values())
        minimum_hs += sum(math.ceil(n / 1000) for t, n in objects.items() if t != "companies") + len(objects)
        print(f"hubspot full sync     : {full_calls} calls, minimum {minimum_hs} ({objects})")
        print(
            f"hubspot no-change sync: {stats['calls'] - full_calls} calls, minimum {2 * len(objects)} "
            "(a search and an archived listing per type; the lookback's re-reads add association calls)"
        )


def backfill_benchmark(invoices_per_org: int, organisations: int) -> None:
    print(
        f"## Backfill: {organisations} organisations x {invoices_per_org:,} invoices, page size 100, "
        "Xero's real limits, simulated clock"
    )
    customers = max(10, invoices_per_org * CUSTOMERS_PER_1000_INVOICES // 1000)
    worst, failed_total, calls_total, invoices_total, real_start = 0.0, 0, 0, 0, time.perf_counter()
    for index in range(organisations):
        company = generate_demo_company(
            seed=100 + index, as_of=AS_OF, n_customers=customers, name=f"Backfill {index + 1} Ltd"
        )
        clock = SimulatedClock()
        with tempfile.TemporaryDirectory() as tmp, Sandbox(companies=[company], clock=clock) as box:
            [result] = extract_xero(
                conn(box, "xero", page_size=100), Path(tmp) / "landing", "backfill", Path(tmp) / "state", clock=clock
            )
            limits = box.xero_app.config["limits"]
            failed = limits.rejected
        sizes = list(company.xero_stream_sizes().values())
        calls = result.calls
        # The first 60 calls go at once; then 60 a minute.
        minimum = max(0, math.ceil(calls / 60) - 1) * 60
        print(
            f"organisation {index + 1}: {sizes[0]:,} invoices, {calls} calls (minimum "
            f"{minimum_calls(sizes, 100)}), simulated {clock.now():.0f} s vs limit minimum {minimum} s "
            f"({clock.now() / minimum if minimum else float('nan'):.3f}x), failed calls {failed}"
        )
        worst = max(worst, clock.now())
        failed_total += failed
        calls_total += calls
        invoices_total += sizes[0]
    print(
        f"total: {invoices_total:,} invoices, {calls_total} calls, failed {failed_total}; "
        f"backfill wall time (organisations in parallel) {worst:.0f} s simulated; "
        f"real time for the whole benchmark {time.perf_counter() - real_start:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices-per-org", type=int, default=20_000)
    parser.add_argument("--organisations", type=int, default=5)
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; date {date.today()}"
    )
    calls_benchmark(args.organisations)
    backfill_benchmark(args.invoices_per_org, args.organisations)


if __name__ == "__main__":
    main()
