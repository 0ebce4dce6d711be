"""Benchmark: the sharded daily DAG on real Airflow services (ar_radar.local.cluster: PostgreSQL, Redis, the
api-server, scheduler, dag-processor, triggerer and Celery workers) for 20 sandbox organisations, 1 vs 2 workers
and 1 vs 4 shards.

    .venv/bin/python bench/cluster_scaling.py [--organisations 20] [--repeat 1] [--configs 1x1 1x2 4x1 4x2]

Each configuration (``<shards>x<workers>``, each worker running 2 tasks at once with AR_RADAR_THREADS=1) starts
its own cluster, then triggers one day of every shard's DAG, approves each shard's reminders through the REST API
as soon as they are asked for, and waits until every run finished. Reported: the day's wall time (trigger to the
last run finished, approvals included: they are answered within 2 s), every task instance's queue latency
(queued to started; median and 90th percentile), the peak resident memory of each worker's process tree (the
worker and the task processes it runs, sampled every 0.5 s), and the per-shard task times the projection uses.
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
from datetime import date, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
AS_OF = date(2026, 11, 20)


def _seconds(ti: dict) -> float:
    start, end = ti.get("start_date"), ti.get("end_date")
    if not (start and end):
        return 0.0
    parse = lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def run_config(shards: int, workers: int, organisations: int) -> dict:
    from ar_radar.local.cluster import Cluster, MemorySampler

    with (
        tempfile.TemporaryDirectory() as tmp,
        Cluster(Path(tmp), AS_OF, shards=shards, workers=workers, organisations=organisations) as cluster,
    ):
        with MemorySampler(cluster.workers_alive()) as memory:
            run = cluster.wait(cluster.trigger_day(), timeout=3600)
        task_seconds: dict[str, list[float]] = defaultdict(list)
        for instances in run.task_instances.values():
            for ti in instances:
                if ti["state"] == "success":
                    task_seconds[ti["task_id"]].append(_seconds(ti))
        latencies = run.queue_latencies()
        return {
            "states": run.states,
            "seconds": run.seconds,
            "latency_median": statistics.median(latencies),
            "latency_p90": statistics.quantiles(latencies, n=10)[-1],
            "tasks": sum(len(v) for v in run.task_instances.values()),
            "peak_mib": {k: v / 2**20 for k, v in memory.peaks.items()},
            "task_seconds": {k: sum(v) for k, v in task_seconds.items()},
            "emails": len(cluster.sink.received),
        }


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
            result = run_config(shards, workers, args.organisations)
            print(
                f"{config} run {n + 1}: day {result['seconds']:.0f} s (cluster up and down "
                f"{time.perf_counter() - started - result['seconds']:.0f} s), states {set(result['states'].values())}",
                flush=True,
            )
            runs.append(result)
        results[config] = runs
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d')}  organisations: {args.organisations}  runs per config: {args.repeat}")
    print("shards x workers | day s | queue latency median s | p90 s | task instances | peak MiB per worker | emails")
    for config, runs in results.items():
        day = statistics.median(r["seconds"] for r in runs)
        median = statistics.median(r["latency_median"] for r in runs)
        p90 = statistics.median(r["latency_p90"] for r in runs)
        peaks = ", ".join(f"{v:.0f}" for v in runs[-1]["peak_mib"].values())
        print(f"{config} | {day:.0f} | {median:.1f} | {p90:.1f} | {runs[-1]['tasks']} | {peaks} | {runs[-1]['emails']}")
    print("task seconds summed over the day's task instances (last run of each config):")
    for config, runs in results.items():
        top = sorted(runs[-1]["task_seconds"].items(), key=lambda kv: -kv[1])[:8]
        print(f"  {config}: " + ", ".join(f"{k} {v:.0f}" for k, v in top))
    if any(s != "success" for runs in results.values() for r in runs for s in r["states"].values()):
        sys.exit("a run did not succeed; see the states above")


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    main()
