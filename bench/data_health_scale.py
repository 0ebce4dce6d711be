"""Benchmark: the data-health gate at a million invoices, validating every row against only the changed ones.

    .venv/bin/python bench/data_health_scale.py [--repeat 3] [--small] [--changed-percent 1]

Builds the warehouse once (untimed) from the cached synthetic raw tables of bench/warehouse_scale.py
(1,000,000 invoices, 50,000 customers, ~3,000,000 payments, 200 organisations) and runs a first full gate that
keeps its row verdicts (untimed). Then ``--repeat`` times, on a fresh copy: a day's new versions of
``--changed-percent`` of the invoices, payments and contacts (bench/incremental_build.py), an incremental dbt
build (untimed), and in fresh child processes the gate as the DAG runs it: ``incremental`` (only the keyed
tables' changed rows, plus the whole-table SQL figures) and ``full`` (every row, ``validate(full=True)``), with
the child's own peak memory. The two runs' results are compared. The gates store their results in the run's own
copy of the GX project (bench/gx_project.py).
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

from peak_memory import peak_mib

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from gx_project import gx_project  # noqa: E402
from warehouse_scale import AS_OF, _settings  # noqa: E402


def child(folder: Path, step: str) -> None:
    from ar_radar.gate import validate as data_health

    settings = _settings(folder)
    start = time.perf_counter()
    report = data_health.validate(
        settings.db_path, gx_project(folder), f"bench-{time.time_ns()}", AS_OF, full=step == "full"
    )
    seconds = time.perf_counter() - start
    results = [
        [c.table, c.check, c.column, c.severity, c.success, c.element_count, c.unexpected_count, c.example_ids]
        for c in report.checks
    ]
    rows = {s.table: s.rows_validated for s in report.row_states}
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mib": peak_mib(),
                "rows_validated": rows,
                "results": results,
                "failed": [c.describe() for c in report.checks if not c.success],
            },
            default=str,
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

    from ar_radar.gate import incremental
    from ar_radar.gate import validate as data_health
    from ar_radar.warehouse.build import build_warehouse
    from incremental_build import change
    from scale_data import Scale, cached_raw, run_child

    scale = Scale.small() if args.small else Scale()
    raw = cached_raw(args.small)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        shutil.copy(raw, base / "ar_radar.duckdb")
        settings = _settings(base)
        start = time.perf_counter()
        build_warehouse(settings, AS_OF, full_refresh=True)
        report = data_health.validate(settings.db_path, gx_project(base), "bench-first", AS_OF)
        incremental.remember(settings.db_path, "bench-first", report.row_states, report.raw_counts)
        print(f"warehouse built and first gate run (untimed) in {time.perf_counter() - start:.0f} s", flush=True)
        results: dict[str, list[dict]] = {"incremental": [], "full": []}
        for n in range(args.repeat):
            folder = Path(tmp) / f"day-{n}"
            shutil.copytree(base, folder)
            added = change(folder / "ar_radar.duckdb", args.changed_percent)
            build_warehouse(_settings(folder), AS_OF)
            for step in results:
                results[step].append(run_child(__file__, folder, step))
            shutil.rmtree(folder)
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d')}  scale: {scale}  runs: {args.repeat}  changed: {args.changed_percent} %")
    print(f"new raw versions per day: {added:,}")
    same = all(i["results"] == f["results"] for i, f in zip(results["incremental"], results["full"], strict=True))
    print(f"incremental results equal the full gate's: {same}")
    print(f"failed on this synthetic data: {results['full'][-1]['failed']}")
    for step, runs in results.items():
        secs = [r["seconds"] for r in runs]
        peak = max(r["peak_mib"] for r in runs)
        spread = f"min {min(secs):.1f}, max {max(secs):.1f}"
        print(
            f"{step:<12} median {statistics.median(secs):.1f} s ({spread}), peak {peak:.0f} MiB, "
            f"rows validated {runs[-1]['rows_validated']}"
        )
    ratio = statistics.median(r["seconds"] for r in results["full"]) / statistics.median(
        r["seconds"] for r in results["incremental"]
    )
    print(f"full / incremental: {ratio:.2f}x")


if __name__ == "__main__":
    main()
