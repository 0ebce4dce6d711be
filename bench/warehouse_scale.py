"""Benchmark: the dbt warehouse at a million invoices, beside pandas and the same SQL run straight in DuckDB.

    AR_RADAR_THREADS=2 .venv/bin/python bench/warehouse_scale.py [--repeat 3] [--small]

dbt runs with the pipeline's thread bound (``ar_radar.threads.task_threads()``: half the cores unless
``AR_RADAR_THREADS`` says otherwise); BENCHMARKS.md gives it all of the machine's cores, as a worker that runs one
task at a time can (README, ``AR_RADAR_THREADS``). The report prints the threads used.

Writes synthetic raw tables (bench/scale_data.py: 1,000,000 invoices, 50,000 customers, ~3,000,000
payments, 200 organisations) once into a cache file, then, ``--repeat`` times and each in a fresh
child process on a fresh copy of that file, measures wall time and the child's peak RSS for:

- ``dbt build``: the pipeline's own build_warehouse (seeds, snapshot, every model, data tests; the
  unit tests are CI's), in-process dbt as the DAG runs it, with its target dir warm from a first run;
- ``raw SQL``: the SQL dbt compiled for every model, run in dependency order straight in DuckDB with
  the same materialisations and settings (no tests, no snapshot): what dbt itself adds;
- ``pandas``: bench/pandas_warehouse.py, the aging and the Xero payment-history features as an
  analyst would write them (a subset of what dbt builds), from the same raw tables.
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
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from peak_memory import peak_mib

BENCH = Path(__file__).resolve().parent
AS_OF = date(2026, 11, 20)
METHODS = ("dbt", "sql", "pandas")


def _settings(folder: Path):  # noqa: ANN202
    from ar_radar.settings import Settings

    # The file is named like the demo's so dbt's compiled SQL ("ar_radar"."marts"...) runs as is.
    return replace(Settings.from_env(), data_dir=folder, db_path=folder / "ar_radar.duckdb")


def write_manifest(settings) -> None:  # noqa: ANN001
    """dbt's manifest.json in the settings' target folder (the daily build writes none; the raw-SQL run orders the
    compiled SQL by it)."""
    from ar_radar.warehouse.build import _invoke

    _invoke(settings, "parse", AS_OF)


def _run_compiled_sql(settings, target: Path) -> None:  # noqa: ANN001
    """Every model's compiled SQL, in dependency order, with dbt's materialisation and profile settings."""
    from graphlib import TopologicalSorter

    import duckdb

    manifest = json.loads((target / "manifest.json").read_text())
    models = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    order = TopologicalSorter(
        {k: [d for d in n["depends_on"]["nodes"] if d in models] for k, n in models.items()}
    ).static_order()
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute("set memory_limit = '3GB'; set preserve_insertion_order = false")
        for schema in {n["schema"] for n in models.values()}:
            con.execute(f"create schema if not exists {schema}")
        for key in order:
            node = models[key]
            if node["language"] == "python":  # a dbt Python model (int_crm_texts): its function, as dbt calls it
                frame = _python_model(node, con, models)
                con.register("python_model_frame", frame)
                con.execute(f"create or replace table {node['schema']}.{node['alias']} as from python_model_frame")
                con.unregister("python_model_frame")
                continue
            kind = "view" if node["config"]["materialized"] == "view" else "table"
            sql = (target / "compiled" / "ar_radar" / node["original_file_path"]).read_text()
            con.execute(f"create or replace {kind} {node['schema']}.{node['alias']} as {sql}")


def _python_model(node: dict, con, models: dict):  # noqa: ANN001, ANN202
    """Call a dbt Python model's model(dbt, session) with what it uses: ref(), config() and is_incremental (a
    full build)."""
    import importlib.util

    by_name = {n["name"]: n for n in models.values()}

    class Dbt:
        is_incremental = False

        @staticmethod
        def ref(name: str):  # noqa: ANN205
            return con.table(f"{by_name[name]['schema']}.{by_name[name]['alias']}")

        @staticmethod
        def config(**_: object) -> None:
            return None

    path = BENCH.parent / "dbt_project" / node["original_file_path"]
    spec = importlib.util.spec_from_file_location(node["name"], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.model(Dbt(), con)


def child(method: str, folder: Path, target: Path) -> None:
    """Run one method in this (fresh) process and print its wall time and peak RSS as JSON."""
    settings = _settings(folder)
    start = time.perf_counter()
    if method == "dbt":
        from ar_radar.warehouse.build import build_warehouse

        build_warehouse(settings, AS_OF)
    elif method == "sql":
        _run_compiled_sql(settings, target)
    else:
        sys.path.insert(0, str(BENCH))
        from pandas_warehouse import build

        build(settings.db_path, AS_OF)
    seconds = time.perf_counter() - start
    peak = peak_mib()
    print(json.dumps({"seconds": seconds, "peak_mib": peak}))


def _fresh_copy(raw: Path, folder: Path) -> None:
    """A fresh copy of the raw tables as ``folder/ar_radar.duckdb``; anything else in folder stays."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("ar_radar.duckdb*"):
        stale.unlink()
    shutil.copy(raw, folder / "ar_radar.duckdb")


def _measure(method: str, raw: Path, work: Path, target: Path) -> dict:
    # dbt runs in the folder of the warm-up build, so its target dir (partial parsing) and the profile's
    # path are the same as last time: what the daily DAG sees every morning.
    folder = work / method
    _fresh_copy(raw, folder)
    if method == "sql":
        # the seeds are part of the warehouse but not of the SQL being timed
        from ar_radar.warehouse.build import _invoke

        _invoke(_settings(folder), "seed", AS_OF)
    out = subprocess.run(
        [sys.executable, __file__, "--child", method, str(folder), str(target)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {method}: {result['seconds']:.1f} s, peak {result['peak_mib']:.0f} MiB", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="a 4,000-invoice smoke run")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return

    sys.path.insert(0, str(BENCH))
    from scale_data import Scale, cached_raw

    scale = Scale.small() if args.small else Scale()
    raw = cached_raw(args.small)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # one untimed dbt build: compiles the SQL for the raw-SQL run and warms dbt's target dir
        _fresh_copy(raw, work / "dbt")
        subprocess.run(
            [sys.executable, __file__, "--child", "dbt", str(work / "dbt"), "-"], check=True, capture_output=True
        )
        write_manifest(_settings(work / "dbt"))
        target = work / "dbt" / "dbt" / "target"
        results: dict[str, list[dict]] = {m: [] for m in args.methods.split(",")}
        for _ in range(args.repeat):
            for method in results:
                results[method].append(_measure(method, raw, work, target))
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    from ar_radar.threads import task_threads

    print(f"date: {date.today()}  scale: {scale}  runs: {args.repeat}  dbt threads: {task_threads()}")
    print(f"{'method':<8}{'median s':>10}{'min s':>8}{'max s':>8}{'peak MiB':>10}")
    medians = {}
    for method, runs in results.items():
        secs = [r["seconds"] for r in runs]
        medians[method] = statistics.median(secs)
        peak = max(r["peak_mib"] for r in runs)
        print(f"{method:<8}{medians[method]:>10.1f}{min(secs):>8.1f}{max(secs):>8.1f}{peak:>10.0f}")
    if {"dbt", "pandas"} <= medians.keys():
        print(f"pandas / dbt: {medians['pandas'] / medians['dbt']:.1f}x")
    if {"dbt", "sql"} <= medians.keys():
        print(f"dbt / raw SQL: {medians['dbt'] / medians['sql']:.2f}x")


if __name__ == "__main__":
    main()
