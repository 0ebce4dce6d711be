"""Benchmark: the sharded daily DAG on real Airflow services (ar_radar.local.cluster: PostgreSQL, Redis, the
api-server, scheduler, dag-processor, triggerer and Celery workers) for 20 sandbox organisations, 1 vs 2 workers
and 1 vs 4 shards.

    .venv/bin/python bench/cluster_scaling.py [--organisations 20] [--repeat 1] [--configs 1x1 1x2 4x1 4x2]

Each configuration (``<shards>x<workers>``, each worker running 2 tasks at once with AR_RADAR_THREADS=1) starts
its own cluster, then runs two days: the first (every organisation's backfill, first models, first reminders)
and the next (a quiet day: incremental extracts and build, no retraining, reminders capped). Each day triggers
every shard's DAG, approves each shard's reminders through the REST API as soon as they are asked for, and waits
until every run finished. Reported per day: wall time (trigger to the last run finished, approvals included:
they are answered within 2 s), every task instance's queue latency (queued to started; median and 90th
percentile), the peak resident memory of each worker's process tree (the worker and the task processes it runs,
sampled every 0.5 s), Xero API calls (counted by the sandbox), and task seconds by task for the projection.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
AS_OF = date(2026, 11, 20)


def _seconds(ti: dict) -> float:
    start, end = ti.get("start_date"), ti.get("end_date")
    if not (start and end):
        return 0.0
    parse = lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def _day(cluster, day: date, label: str) -> dict:  # noqa: ANN001 - ar_radar.local.cluster.Cluster
    from ar_radar.local.cluster import MemorySampler

    calls_before = cluster.sandbox.xero_app.config["calls"]["calls"]
    with MemorySampler(cluster.workers_alive()) as memory:
        run = cluster.wait(cluster.trigger_day(day, label), timeout=3600)
    task_seconds: dict[str, float] = defaultdict(float)
    for instances in run.task_instances.values():
        for ti in instances:
            if ti["state"] == "success":
                task_seconds[ti["task_id"]] += _seconds(ti)
    latencies = run.queue_latencies()
    return {
        "states": run.states,
        "seconds": run.seconds,
        "latency_median": statistics.median(latencies),
        "latency_p90": statistics.quantiles(latencies, n=10)[-1],
        "tasks": sum(len(v) for v in run.task_instances.values()),
        "peak_mib": {k: v / 2**20 for k, v in memory.peaks.items()},
        "task_seconds": dict(task_seconds),
        "xero_calls": cluster.sandbox.xero_app.config["calls"]["calls"] - calls_before,
    }


def run_config(shards: int, workers: int, organisations: int) -> list[dict]:
    from ar_radar.local.cluster import Cluster

    with (
        tempfile.TemporaryDirectory() as tmp,
        Cluster(Path(tmp), AS_OF, shards=shards, workers=workers, organisations=organisations) as cluster,
    ):
        first = _day(cluster, AS_OF, "first")
        emails = len(cluster.sink.received)
        quiet = _day(cluster, AS_OF + timedelta(days=1), "next")
        first["emails"], quiet["emails"] = emails, len(cluster.sink.received) - emails
        return [first, quiet]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--organisations", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--configs", nargs="+", default=["1x1", "1x2", "4x1", "4x2"])
    args = parser.parse_args()
    os.environ.setdefault("AR_RADAR_THREADS", "1")
    results = {}
    for config in args.configs:
        shards, workers = (int(x) for x in config.split("x"))
        runs = []
        for n in range(args.repeat):
            started = time.perf_counter()
            days = run_config(shards, workers, args.organisations)
            spent = sum(d["seconds"] for d in days)
            print(
                f"{config} run {n + 1}: first day {days[0]['seconds']:.0f} s, next day {days[1]['seconds']:.0f} s "
                f"(cluster up and down {time.perf_counter() - started - spent:.0f} s), "
                f"states {set(days[0]['states'].values()) | set(days[1]['states'].values())}",
                flush=True,
            )
            runs.append(days)
        results[config] = runs
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d')}  organisations: {args.organisations}  runs per config: {args.repeat}")
    print(
        "shards x workers | day | wall s | queue latency median s | p90 s | task instances | peak MiB per worker | "
        "Xero calls | emails"
    )
    for config, runs in results.items():
        for index, name in enumerate(("first", "next")):
            days = [r[index] for r in runs]
            day = statistics.median(d["seconds"] for d in days)
            median = statistics.median(d["latency_median"] for d in days)
            p90 = statistics.median(d["latency_p90"] for d in days)
            last = days[-1]
            peaks = ", ".join(f"{v:.0f}" for v in last["peak_mib"].values())
            print(
                f"{config} | {name} | {day:.0f} | {median:.1f} | {p90:.1f} | {last['tasks']} | {peaks} | "
                f"{last['xero_calls']} | {last['emails']}"
            )
    print("task seconds summed over the day's task instances (last run of each config):")
    for config, runs in results.items():
        for index, name in enumerate(("first", "next")):
            top = sorted(runs[-1][index]["task_seconds"].items(), key=lambda kv: -kv[1])[:9]
            print(f"  {config} {name}: " + ", ".join(f"{k} {v:.0f}" for k, v in top))
    states = {s for runs in results.values() for days in runs for d in days for s in d["states"].values()}
    if states != {"success"}:
        sys.exit(f"a run did not succeed: {states}")


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    main()
