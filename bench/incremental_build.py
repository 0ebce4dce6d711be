"""Benchmark: the daily warehouse build when 1 % of the records changed, against a full rebuild, at 1,000,000
invoices (issue 17's first step: incremental staging; intermediate and marts are still rebuilt in full).

    .venv/bin/python bench/incremental_build.py [--repeat 3] [--small] [--changed-percent 1]

From the cached synthetic raw tables of bench/warehouse_scale.py (200 organisations, ~3M payments), a first full
build (untimed); then, each run in a fresh child process on a fresh copy of that built file: ``incremental``
adds a new version of ``--changed-percent`` of the invoices, payments and contacts (loaded now) and runs
``build_warehouse``; ``full`` runs ``build_warehouse(full_refresh=True)`` on the same data. Wall time and the
child's own peak memory.
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
from datetime import date
from pathlib import Path

from peak_memory import peak_mib

BENCH = Path(__file__).resolve().parent
AS_OF = date(2026, 11, 20)
STREAMS = ("xero_invoices", "xero_payments", "xero_contacts")


def _settings(folder: Path):  # noqa: ANN202
    from ar_radar.settings import Settings

    return replace(Settings.from_env(), data_dir=folder, db_path=folder / "ar_radar.duckdb")


def change(db: Path, percent: float) -> int:
    """New versions of ``percent`` of each stream's records, as a day's extract would load them."""
    import duckdb

    added = 0
    with duckdb.connect(str(db)) as con:
        for table in STREAMS:
            con.execute(f"""
                insert into raw.{table}
                select source, entity, tenant_id, record_id, updated_at, record_hash || '-bench', 'bench-day',
                       extracted_at + interval 1 day, json_merge_patch(payload, '{{"Reference": "changed"}}'), now()
                from raw.{table}_current using sample {percent} percent (bernoulli, 7)""")
            added += con.execute(f"select count(*) from raw.{table} where run_id = 'bench-day'").fetchone()[0]
    return added


def child(folder: Path, step: str) -> None:
    from ar_radar.warehouse.build import build_warehouse

    settings = _settings(folder)
    added = change(settings.db_path, float(os.environ["BENCH_CHANGED_PERCENT"])) if step == "incremental" else 0
    start = time.perf_counter()
    summary = build_warehouse(settings, AS_OF, full_refresh=step == "full")
    seconds = time.perf_counter() - start
    assert summary.full_refresh == (step == "full")
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib(), "versions_added": added}))


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
        built = Path(tmp) / "built"
        built.mkdir()
        shutil.copy(raw, built / "ar_radar.duckdb")
        from ar_radar.warehouse.build import build_warehouse

        start = time.perf_counter()
        build_warehouse(_settings(built), AS_OF, full_refresh=True)
        print(f"first full build (untimed) {time.perf_counter() - start:.0f} s", flush=True)
        results: dict[str, list[dict]] = {"incremental": [], "full": []}
        for n in range(args.repeat):
            for step in results:
                folder = Path(tmp) / f"{step}-{n}"
                shutil.copytree(built, folder)
                results[step].append(run_child(__file__, folder, step))
                shutil.rmtree(folder)
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d')}  scale: {scale}  runs: {args.repeat}  changed: {args.changed_percent} %")
    print(f"versions added per incremental run: {results['incremental'][0]['versions_added']:,}")
    medians = {}
    for step, runs in results.items():
        secs = [r["seconds"] for r in runs]
        medians[step] = statistics.median(secs)
        peak = max(r["peak_mib"] for r in runs)
        print(
            f"{step:<12} median {medians[step]:.1f} s (min {min(secs):.1f}, max {max(secs):.1f}), peak {peak:.0f} MiB"
        )
    print(f"full / incremental: {medians['full'] / medians['incremental']:.2f}x")


if __name__ == "__main__":
    main()
