"""Benchmark: two versions of the project's daily build, interleaved in the same hour, on the same raw data.

    .venv/bin/python bench/build_ab.py A_REV B_REV [--repeat 2] [--days paid next amounts reference full] [--small]
        [--invoices 1000000] [--customers 10000] [--changed-percent 1] [--nodes MODEL ...]

This machine drifts by more than some changes move (the same full rebuild took 77-91 s on one day), so figures
from different hours of bench/incremental_build.py do not compare two commits fairly. This one checks out both
revisions (git worktrees under a temporary folder), builds each once in full from the cached synthetic raw tables
of bench/warehouse_scale.py (timed, dbt's parse included), then runs the days A, B, A, B, ...: each run restores
that version's built copy into its own folder (one path per version, so dbt reuses its parse as a pipeline host
does), loads the day's new versions of 1 % of the records (``incremental_build.change``; the day ``full`` loads
nothing and rebuilds everything) and times ``build_warehouse`` in a fresh child process, with ``AR_RADAR_THREADS``
as set (default: half the cores). Prints every run (with the day's new versions, its five slowest nodes and the
seconds of the nodes named by ``--nodes``, as ``ops.warehouse_build_nodes`` has them) and each day's medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

# Run in the child, with the version's own package on the path (PYTHONPATH). The day's changes were loaded before it
# by this bench's own code (the parent's), the same for both versions whatever their raw layer's code.
CHILD = """
import json, sys, time
from dataclasses import replace
from datetime import date
from pathlib import Path
from ar_radar.settings import Settings
from ar_radar.warehouse.build import build_warehouse
folder, day, as_of, versions = Path(sys.argv[1]), sys.argv[2], date.fromisoformat(sys.argv[3]), int(sys.argv[4])
settings = replace(Settings.from_env(), data_dir=folder, db_path=folder / "ar_radar.duckdb")
start = time.perf_counter()
summary = build_warehouse(settings, as_of, full_refresh=day == "full")
seconds = time.perf_counter() - start
import duckdb
with duckdb.connect(str(settings.db_path), read_only=True) as con:
    touched = con.execute("select count(*) from intermediate.int_touched_customers").fetchone()[0]
    built = con.execute(
        "select split_part(unique_id, '.', -1), round(seconds, 2) from ops.warehouse_build_nodes "
        "where built_at = (select max(built_at) from ops.warehouse_build_nodes) order by seconds desc"
    ).fetchall()
named = set(sys.argv[5].split(","))
slowest, nodes = [list(n) for n in built[:5]], {name: s for name, s in built if name in named}
print(json.dumps({"seconds": seconds, "full_refresh": summary.full_refresh, "touched": touched, "slowest": slowest,
                  "versions": versions, "nodes": nodes}))
"""


def _build(checkout: Path, folder: Path, day: str, percent: float, nodes: list[str]) -> float:
    from incremental_build import change, day_as_of

    versions = change(folder / "ar_radar.duckdb", percent, day) if day != "full" else 0
    env = dict(os.environ, PYTHONPATH=str(checkout / "include"))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), day, day_as_of(day).isoformat(), str(versions), ",".join(nodes)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise SystemExit(f"{checkout.name} {day}: the build failed\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1])
    if result["full_refresh"] != (day == "full"):
        raise SystemExit(f"{checkout.name} {day}: expected full_refresh={day == 'full'}, got {result}")
    if day != "full":
        print(
            f"    {result['versions']:,} new versions, customers recomputed {result['touched']:,}; "
            f"slowest nodes {result['slowest']}",
            flush=True,
        )
    if result["nodes"]:
        print(f"    nodes {result['nodes']}", flush=True)
    return result["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("a", help="a git revision of this repository")
    parser.add_argument("b", help="another one")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--days",
        nargs="+",
        default=["paid", "amounts", "reference"],
        choices=["paid", "next", "amounts", "reference", "full"],
        help="bench/incremental_build.py's days; full: a full rebuild of the same data (the day's folder restored, "
        "dbt's parse reused)",
    )
    parser.add_argument("--changed-percent", type=float, default=1.0)
    parser.add_argument("--small", action="store_true", help="a 4,000-invoice smoke run")
    parser.add_argument("--invoices", type=int, default=1_000_000, help="bench/daily_growth.py's scale of this size")
    parser.add_argument(
        "--customers", type=int, default=0, help="the same customers at any size: a longer history (Scale.of_history)"
    )
    parser.add_argument("--nodes", nargs="*", default=[], help="models or tests whose seconds to print in every run")
    args = parser.parse_args()

    sys.path.insert(0, str(BENCH))
    from scale_data import Scale, cached_raw

    scale = Scale.of_history(args.invoices, args.customers) if args.customers else Scale.of_invoices(args.invoices)
    raw = cached_raw(args.small, None if args.small else scale)
    threads = os.environ.get("AR_RADAR_THREADS", "half the cores")
    print(f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, AR_RADAR_THREADS {threads}")
    with tempfile.TemporaryDirectory() as tmp:
        versions = {"A": args.a, "B": args.b}
        checkouts, seconds = {}, {}
        try:
            for name, rev in versions.items():
                checkouts[name] = Path(tmp) / f"src-{name}"
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "add", "--detach", str(checkouts[name]), rev], check=True
                )
                run = Path(tmp) / name / "run"
                run.mkdir(parents=True)
                shutil.copy(raw, run / "ar_radar.duckdb")
                full = _build(checkouts[name], run, "full", 0, args.nodes)
                print(f"{name} ({rev}) first full build, parse included: {full:.1f} s", flush=True)
                shutil.copytree(run, Path(tmp) / name / "built")
            for _ in range(args.repeat):
                for day in args.days:
                    for name in versions:
                        run, built = Path(tmp) / name / "run", Path(tmp) / name / "built"
                        shutil.rmtree(run)
                        shutil.copytree(built, run)
                        took = _build(checkouts[name], run, day, args.changed_percent, args.nodes)
                        seconds.setdefault((day, name), []).append(took)
                        print(f"{name} {day}: {took:.1f} s", flush=True)
        finally:
            for checkout in checkouts.values():
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(checkout)], check=False)
    for day in args.days:
        a, b = (statistics.median(seconds[(day, name)]) for name in versions)
        runs = {name: [round(x, 1) for x in seconds[(day, name)]] for name in versions}
        print(f"{day}: A {a:.1f} s, B {b:.1f} s, B - A {b - a:+.1f} s ({(b - a) / a:+.0%}); runs {runs}")


if __name__ == "__main__":
    main()
