"""Benchmark: the owners' weekly report on the 1,000,000-invoice warehouse, for one organisation and for all 200:
wall time and peak memory, charts and emails included.

    .venv/bin/python bench/weekly_report_scale.py [--repeat 3] [--small]

Builds once (untimed, then cached in bench/.cache) the warehouse of bench/warehouse_scale.py (its synthetic raw
tables: 1,000,000 invoices, 200 organisations), scores its open invoices on two days a week apart (the rules
prior; the forecast and trend figures need last week's scores), then, ``--repeat`` times and each in a fresh
child process, runs ``pipeline.weekly.weekly_reports`` (every figure query, the charts, the HTML and text, the
MIME message) for the first organisation only and for all of them, and records wall time and the child's peak RSS.
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

from peak_memory import peak_mib

BENCH = Path(__file__).resolve().parent
AS_OF = date(2026, 11, 20)
MONDAY = date(2026, 11, 23)


def _settings(folder: Path):  # noqa: ANN202
    from ar_radar.settings import Settings

    return replace(Settings.from_env(), data_dir=folder, db_path=folder / "ar_radar.duckdb")


def child(folder: Path, which: str) -> None:
    from ar_radar.pipeline.weekly import weekly_reports

    settings = _settings(folder)
    only = None
    if which == "one":
        import duckdb

        with duckdb.connect(str(settings.db_path), read_only=True) as con:
            only = {con.execute("select min(tenant_id) from marts.fct_ar_aging").fetchone()[0]}
    start = time.perf_counter()
    built = weekly_reports(settings, MONDAY, only)
    seconds = time.perf_counter() - start
    size = sum(len(bytes(email)) for _, email, _ in built)
    peak = peak_mib()
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "reports": len(built), "bytes": size}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="a 4,000-invoice smoke run")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1])
        return

    sys.path.insert(0, str(BENCH))
    from scale_data import Scale, cached_raw, run_child

    scale = Scale.small() if args.small else Scale()
    raw = cached_raw(args.small)
    built = raw.with_name(raw.stem + "-scored.duckdb")  # the scored warehouse, kept for the next run
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not built.exists():
            from ar_radar.scoring.score import score_open_invoices
            from ar_radar.warehouse.build import build_warehouse

            shutil.copy(raw, folder / "ar_radar.duckdb")
            start = time.perf_counter()
            build_warehouse(_settings(folder), AS_OF)
            for day in (AS_OF - timedelta(days=7), AS_OF):
                score_open_invoices(folder / "ar_radar.duckdb", day)
            print(f"warehouse built and scored (untimed) in {time.perf_counter() - start:.0f} s", flush=True)
            shutil.copy(folder / "ar_radar.duckdb", built)
        shutil.copy(built, folder / "ar_radar.duckdb")
        results: dict[str, list[dict]] = {"one": [], "all": []}
        for _ in range(args.repeat):
            for which in results:
                results[which].append(run_child(__file__, folder, which))
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d')}  scale: {scale}  runs: {args.repeat}")
    for which, runs in results.items():
        secs = [r["seconds"] for r in runs]
        peak = max(r["peak_mib"] for r in runs)
        print(
            f"{which}: {runs[0]['reports']} report(s), median {statistics.median(secs):.1f} s "
            f"(min {min(secs):.1f}, max {max(secs):.1f}), peak {peak:.0f} MiB, {runs[0]['bytes'] / 1e6:.1f} MB of email"
        )


if __name__ == "__main__":
    main()
