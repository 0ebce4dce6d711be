"""Benchmark: wall time and peak memory of each daily stage on the demo sandbox.

    .venv/bin/python bench/daily_pipeline.py [--repeat 3] [--organisations 1]

Runs every stage in this process, outside Airflow (Airflow's own overhead is reported apart,
from `airflow dags test`, by the end-to-end test), ``--repeat`` times on fresh DuckDB files,
and prints the median of each stage and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from ar_radar.extract.connections import connection_from_env
from ar_radar.local.sandbox.server import Sandbox
from ar_radar.pipeline import daily
from ar_radar.settings import Settings
from peak_memory import peak_mib

AS_OF = date(2026, 11, 20)


def run_once(box: Sandbox, folder: Path) -> dict[str, float]:
    settings = replace(Settings.from_env(), data_dir=folder, db_path=folder / "bench.duckdb")
    timings: dict[str, float] = {}

    def timed(name: str, fn, *args):  # noqa: ANN001, ANN202
        start = time.perf_counter()
        result = fn(*args)
        timings[name] = time.perf_counter() - start
        return result

    for source in ("xero", "hubspot"):
        timed(f"extract_{source}", daily.extract, source, connection_from_env(f"{source}_default"), settings, "b")
    timed("load_raw", daily.load_raw, settings)
    timed("build_warehouse", daily.build_warehouse, settings, AS_OF)
    timed("check_data_health", daily.check_data_health, settings, "b", AS_OF)
    timed("score_open_invoices", daily.score, settings, "b", AS_OF)
    timed("build_action_queue", daily.build_queue, settings, "b", AS_OF)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--organisations", type=int, default=1)
    args = parser.parse_args()
    runs = []
    with Sandbox(as_of=AS_OF, organisations=args.organisations) as box:
        os.environ.update(box.airflow_connections())
        invoices = sum(1 for c in box.companies for i in c.invoices if i["Type"] == "ACCREC")
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(run_once(box, Path(tmp)))
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {date.today()}  organisations: {args.organisations}  sales invoices: {invoices}  runs: {args.repeat}")
    print(f"{'stage':<22}{'median s':>10}{'min s':>8}{'max s':>8}")
    for stage in runs[0]:
        values = [r[stage] for r in runs]
        print(f"{stage:<22}{statistics.median(values):>10.2f}{min(values):>8.2f}{max(values):>8.2f}")
    total = [sum(r.values()) for r in runs]
    print(f"{'total':<22}{statistics.median(total):>10.2f}{min(total):>8.2f}{max(total):>8.2f}")
    print(f"peak RSS: {peak_mib():.0f} MiB")


if __name__ == "__main__":
    main()
