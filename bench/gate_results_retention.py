"""Benchmark: the gate's time against the days of GX validation results stored before it.

    .venv/bin/python bench/gate_results_retention.py [--repeat 3] [--days 0 90 365 1095]

Each gate run stores one GX validation result per checked table (10 a day), and GX lists every stored result
when it renders Data Docs, which the gate does for the tables with a failed check. From the 4,000-invoice
synthetic warehouse (built once, untimed), a gate run judged a month late (its freshness warning renders a Data
Docs page) stores one day's results; they are copied as ``--days`` earlier days of runs, one a day, into a copy of
the GX project. Then the gate as the DAG runs it (``validate``), timed in this process (GX imported before), each
time on a fresh copy:
  * ``kept``: keeping every stored result (retention longer than the history, as before results_retention);
  * ``pruned``: with the default 90 days, where the first run deletes the older results (its time includes that).
Afterwards ``days=90 kept`` is the steady state of the default. Medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from gx_project import gx_project  # noqa: E402
from warehouse_scale import AS_OF, _settings  # noqa: E402

LATE = AS_OF + timedelta(days=30)  # judged a month late: freshness warns, so Data Docs are rendered


def stored_results(gx_root: Path) -> list[Path]:
    return sorted((gx_root / "uncommitted" / "validations").rglob("*.json"))


def add_earlier_days(gx_root: Path, day_results: list[Path], days: int, now: datetime) -> None:
    """Copies of one run's results (…/<table>/<run name>/<run time>/<file>.json) as one run a day before ``now``."""
    for day in range(1, days + 1):
        run_time = (now - timedelta(days=day)).strftime("%Y%m%dT%H%M%S.%fZ")
        for result in day_results:
            table = gx_root / "uncommitted" / "validations" / result.parents[2].name
            target = table / f"day-{day}" / run_time / result.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(result, target)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--days", type=int, nargs="+", default=[0, 90, 365, 1095])
    args = parser.parse_args()

    import great_expectations  # noqa: F401 - imported before any clock starts
    from ar_radar.gate.results_retention import KEEP_DAYS
    from ar_radar.gate.validate import validate
    from ar_radar.warehouse.build import build_warehouse
    from scale_data import cached_raw

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "warehouse"
        folder.mkdir()
        shutil.copy(cached_raw(small=True), folder / "ar_radar.duckdb")
        settings = _settings(folder)
        build_warehouse(settings, AS_OF, full_refresh=True)
        project = gx_project(Path(tmp) / "gx-base")
        validate(settings.db_path, project, "day-0", LATE)
        day_results = stored_results(project)
        print(f"one day's results: {len(day_results)} files, {sum(p.stat().st_size for p in day_results):,} bytes")

        rows = []
        for days in args.days:
            seeded = Path(tmp) / f"gx-{days}"
            shutil.copytree(project, seeded)
            add_earlier_days(seeded, day_results, days, datetime.now(UTC))
            stored = len(stored_results(seeded))
            timings: dict[str, list[float]] = {"kept": [], "pruned": []}
            for _ in range(args.repeat):
                for mode, keep in (("kept", 100 * 365), ("pruned", KEEP_DAYS)):
                    run = Path(tmp) / "gx-run"
                    shutil.rmtree(run, ignore_errors=True)
                    shutil.copytree(seeded, run)
                    start = time.perf_counter()
                    report = validate(settings.db_path, run, f"bench-{mode}", LATE, keep_results_days=keep)
                    timings[mode].append(time.perf_counter() - start)
                    assert report.data_docs, "the late run must render Data Docs pages"
                    left = len(stored_results(run))
            rows.append((days, stored, timings, left))
            print(
                f"days {days}: {stored} stored; kept {statistics.median(timings['kept']):.2f} s, "
                f"pruned {statistics.median(timings['pruned']):.2f} s (results left {left})",
                flush=True,
            )

    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M')}  runs: {args.repeat}  retention: {KEEP_DAYS} days")
    print("| days of runs stored | results stored | gate, every result kept | gate, first run keeping 90 days |")
    print("| ---: | ---: | ---: | ---: |")
    for days, stored, timings, _left in rows:
        kept, pruned = timings["kept"], timings["pruned"]
        print(
            f"| {days:,} | {stored:,} | {statistics.median(kept):.2f} s ({min(kept):.2f}-{max(kept):.2f}) "
            f"| {statistics.median(pruned):.2f} s ({min(pruned):.2f}-{max(pruned):.2f}) |"
        )


if __name__ == "__main__":
    main()
