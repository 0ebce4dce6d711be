"""Benchmark: the data-health gate at a million invoices.

    .venv/bin/python bench/data_health_scale.py [--repeat 3] [--small]

Builds the warehouse once (untimed) from the cached synthetic raw tables of bench/warehouse_scale.py
(1,000,000 invoices, 50,000 customers, ~3,000,000 payments, 200 organisations), then ``--repeat`` times,
each in a fresh child process, times the gate as the DAG runs it (``data_health.validate``: read every
checked table's checked columns read-only into pandas, run each table's GX checkpoint, render the Data Docs
pages) and the read step alone (GX imported before the clock starts), with the child's peak RSS.
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

from warehouse_scale import AS_OF, _settings  # noqa: E402


def child(folder: Path, step: str) -> None:
    from ar_radar.gate import validate as data_health
    from ar_radar.gate.suites import checked_tables, load_config

    settings = _settings(folder)
    if step == "read":
        import great_expectations as gx

        context = gx.get_context(mode="file", context_root_dir=str(settings.gx_root))
        config = load_config(settings.gx_root)
        tables = checked_tables(config)
        columns = {n: data_health.checked_columns(context.suites.get(n), t.example_id) for n, t in tables.items()}
    start = time.perf_counter()
    if step == "read":
        frames = data_health.read_frames(settings.db_path, config, AS_OF, columns)
        outcome = {"rows": sum(len(f) for f in frames.values())}
    else:
        report = data_health.validate(settings.db_path, settings.gx_root, f"bench-{time.time_ns()}", AS_OF)
        outcome = {"checks": len(report.checks), "failed": [c.describe() for c in report.checks if not c.success]}
    seconds = time.perf_counter() - start
    peak = peak_mib()
    print(json.dumps({"seconds": seconds, "peak_mib": peak, **outcome}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="a 4,000-invoice smoke run")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1])
        return

    from scale_data import Scale, cached_raw, run_child

    scale = Scale.small() if args.small else Scale()
    raw = cached_raw(args.small)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(raw, folder / "ar_radar.duckdb")
        from ar_radar.warehouse.build import build_warehouse

        start = time.perf_counter()
        build_warehouse(_settings(folder), AS_OF)
        print(f"warehouse built (untimed for the gate) in {time.perf_counter() - start:.0f} s", flush=True)
        results: dict[str, list[dict]] = {"validate": [], "read": []}
        for _ in range(args.repeat):
            for step in results:
                results[step].append(run_child(__file__, folder, step))
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d')}  scale: {scale}  runs: {args.repeat}")
    last = results["validate"][-1]
    print(f"checks: {last['checks']}; failed on this synthetic data: {last['failed']}")
    print(f"rows read into pandas: {results['read'][-1]['rows']:,}")
    for step, runs in results.items():
        secs = [r["seconds"] for r in runs]
        peak = max(r["peak_mib"] for r in runs)
        spread = f"min {min(secs):.1f}, max {max(secs):.1f}"
        print(f"{step:<9} median {statistics.median(secs):.1f} s ({spread}), peak {peak:.0f} MiB")


if __name__ == "__main__":
    main()
