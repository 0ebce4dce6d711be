"""Benchmark: what a user waits for around the model, idle and beside a CPU-bound process.

    .venv/bin/python bench/model_speed.py [--repeat 3] [--invoices 2500] [--organisations 5] [--only backtest]

1. ``backtest``: ``python -m ar_radar backtest --csv FILE`` (the CLI, in a fresh process, as a user runs it) on a
   public-format history of about 2,500 invoices with three optional columns (disputed, currency,
   billing_channel), made by code below.
2. ``training``: the daily DAG's weekly retrain (``registry.train_due``, forced) of every organisation of the
   sandbox (5 by default), on a warehouse extracted and built once.

Each is run ``--repeat`` times idle, then the same number of times beside one CPU-bound process (a Python busy
loop pinned to neither core: it takes one of the two), and the medians and their ratio are printed.
AR_RADAR_THREADS is left at its default (half the cores), as the pipeline runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

AS_OF = date(2026, 11, 20)


def write_public_format_history(path: Path, invoices: int = 2500, seed: int = 5) -> int:
    """Customers with their own habit; disputed and paper-billed invoices are paid later; the newest are open."""
    rng = random.Random(seed)
    start, end = date(2024, 11, 1), date(2026, 11, 1)
    lines = ["customer_id,invoice_id,invoice_date,due_date,amount,paid_date,disputed,currency,billing_channel"]
    customers = max(10, invoices // 30)
    for number in range(1, invoices + 1):
        c = rng.randrange(customers)
        habit = (c * 7919) % 5 * 6 - 3  # -3 .. 21 days after due, fixed per customer
        day = start + timedelta(days=rng.randrange((end - start).days))
        due = day + timedelta(days=30)
        disputed = rng.random() < 0.06
        paper = (c % 4) == 0
        late = habit + rng.gauss(0, 5) + (40 if disputed else 0) + (6 if paper else 0)
        paid = due + timedelta(days=round(late))
        paid_text = paid.isoformat() if paid < end else ""
        currency = "EUR" if c % 5 == 0 else "GBP"
        channel = "paper" if paper else "electronic"
        amount = round(rng.lognormvariate(7, 0.7), 2)
        lines.append(f"C{c},I{number},{day},{due},{amount},{paid_text},{int(disputed)},{currency},{channel}")
    path.write_text("\n".join(lines) + "\n")
    return invoices


@contextmanager
def busy_neighbour(active: bool):
    """One CPU-bound process beside the measurement (a busy loop), or nothing."""
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if active else None
    try:
        yield
    finally:
        if process:
            process.kill()
            process.wait()


def time_backtest(csv: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ar_radar", "backtest", "--csv", str(csv), "--json"],
        check=True,
        capture_output=True,
        timeout=900,
    )
    return time.perf_counter() - start


# The modules moved when the package got stage folders: these let the same script measure older versions.
def _daily():  # noqa: ANN202
    try:
        from ar_radar.pipeline import daily
    except ImportError:
        from ar_radar import daily
    return daily


def _sandbox():  # noqa: ANN202
    try:
        from ar_radar.local.sandbox.server import Sandbox
    except ImportError:
        from ar_radar.sandbox.server import Sandbox
    return Sandbox


def _connection(name: str):  # noqa: ANN202
    try:
        from ar_radar.extract.connections import connection_from_env
    except ImportError:
        from ar_radar.connections import connection_from_env
    return connection_from_env(name)


def _threads() -> str:
    try:
        from ar_radar.threads import task_threads
    except ImportError:
        return "unbounded (this version has no ar_radar.threads)"
    return str(task_threads())


def build_sandbox_warehouse(folder: Path, organisations: int) -> Path:
    from dataclasses import replace

    from ar_radar.settings import Settings

    settings = replace(Settings.from_env(), data_dir=folder, db_path=folder / "ar_radar.duckdb")
    daily = _daily()
    with _sandbox()(as_of=AS_OF, organisations=organisations) as box:
        os.environ.update(box.airflow_connections())
        for source in ("xero", "hubspot"):
            daily.extract(source, _connection(f"{source}_default"), settings, "bench")
        daily.load_raw(settings)
        daily.build_warehouse(settings, AS_OF)
    return settings.db_path


def time_training(db: Path, work: Path) -> float:
    """The forced weekly retrain of every organisation, in a fresh process on a fresh copy of the warehouse."""
    import shutil

    copy = work / f"train-{time.time_ns()}.duckdb"
    shutil.copy(db, copy)
    code = (
        "import sys; from datetime import date; from pathlib import Path\n"
        "try:\n    from ar_radar.scoring.registry import train_due\n"
        "except ImportError:\n    from ar_radar.model_registry import train_due\n"
        "train_due(Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), Path(sys.argv[3]), force=True)"
    )
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code, str(copy), AS_OF.isoformat(), str(work / "models")],
        check=True,
        capture_output=True,
        timeout=1800,
    )
    elapsed = time.perf_counter() - start
    copy.unlink()
    return elapsed


def measure(name: str, fn, repeat: int) -> None:  # noqa: ANN001
    results = {}
    for busy in (False, True):
        with busy_neighbour(busy):
            runs = [fn() for _ in range(repeat)]
        results[busy] = runs
        label = "beside a busy process" if busy else "idle"
        print(f"  {name} {label}: " + ", ".join(f"{r:.1f}" for r in runs) + " s", flush=True)
    idle, busy = statistics.median(results[False]), statistics.median(results[True])
    print(f"{name:<9} median idle {idle:.1f} s, beside a busy process {busy:.1f} s (ratio {busy / idle:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--invoices", type=int, default=2500)
    parser.add_argument("--organisations", type=int, default=5)
    parser.add_argument("--only", choices=("backtest", "training"))
    args = parser.parse_args()
    import ar_radar

    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d')}  runs: {args.repeat}  AR_RADAR_THREADS: {_threads()}")
    print(f"AR Radar from {Path(ar_radar.__file__).parent}")
    with tempfile.TemporaryDirectory(prefix="model-speed-") as tmp:
        work = Path(tmp)
        if args.only in (None, "backtest"):
            csv = work / "history.csv"
            write_public_format_history(csv, args.invoices)
            print(f"backtest: {args.invoices:,} invoices, 3 optional columns")
            measure("backtest", lambda: time_backtest(csv), args.repeat)
        if args.only in (None, "training"):
            db = build_sandbox_warehouse(work / "warehouse", args.organisations)
            print(f"training: the weekly retrain of {args.organisations} sandbox organisations")
            measure("training", lambda: time_training(db, work), args.repeat)


if __name__ == "__main__":
    main()
