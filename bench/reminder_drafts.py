"""Benchmark: reminder drafts for about 500 customers, from the templates and through the sandbox LLM.

    .venv/bin/python bench/reminder_drafts.py [--customers 950] [--repeat 3] [--latency 1.0] [--concurrency 16]

A sandbox of two organisations with ``--customers`` customers each is extracted, loaded, built by dbt and scored
(the rules prior) once; about a quarter of the customers then need a draft. Measured, each ``--repeat`` times,
median reported, with peak memory (the high-water mark of a fresh process per run):

1. ``template``: ``draft_reminders`` with no model (the default install);
2. ``model``: the official openai client against the sandbox LLM answering every request after ``--latency``
   seconds, ``--concurrency`` requests in flight (AR_RADAR_LLM_CONCURRENCY);
3. per fault mode of the sandbox LLM, the share of drafts that fell back to the template: every faulty answer
   must fall back (100 %), every good one must not (0 %). Faults hit every answer here; ``obey_instruction``
   only changes the answers of customers whose notes carry an instruction (one per organisation).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from peak_memory import peak_mib

AS_OF = date(2026, 11, 20)
FAULTS = (
    "rate_limited",
    "server_error",
    "malformed_json",
    "refusal",
    "truncated",
    "wrong_amount",
    "legal_threat",
    "other_customer",
    "obey_instruction",
)


def build(folder: Path, customers: int) -> Path:
    from dataclasses import replace

    from ar_radar.extract.connections import connection_from_env
    from ar_radar.local.sandbox.demo_company import generate_demo_company
    from ar_radar.local.sandbox.server import Sandbox
    from ar_radar.pipeline import daily
    from ar_radar.scoring.score import score_open_invoices
    from ar_radar.settings import Settings

    settings = replace(Settings.from_env(), data_dir=folder, db_path=folder / "ar_radar.duckdb")
    companies = [
        generate_demo_company(seed=70 + i, as_of=AS_OF, n_customers=customers, years=1, name=f"Bench {i + 1} Ltd")
        for i in range(2)
    ]
    with Sandbox(as_of=AS_OF, companies=companies) as box:
        os.environ.update(box.airflow_connections())
        for source in ("xero", "hubspot"):
            daily.extract(source, connection_from_env(f"{source}_default"), settings, "bench")
        daily.load_raw(settings)
        daily.build_warehouse(settings, AS_OF)
    score_open_invoices(settings.db_path, AS_OF)
    return settings.db_path


def _a_customer(db: str) -> str:
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        return con.execute("select min(contact_name) from staging.stg_xero__contacts").fetchone()[0]


def run_once(db: str, mode: str, latency: float, concurrency: int, fault: str | None) -> dict:
    """One drafting run (in this process: the caller starts a fresh one per run)."""
    from ar_radar.local.sandbox.demo_company import generate_demo_company
    from ar_radar.local.sandbox.server import Sandbox
    from ar_radar.outreach.drafts import DraftOptions, draft_reminders
    from ar_radar.outreach.llm import load_config

    options = DraftOptions(concurrency=concurrency)
    if mode == "template":
        started = time.perf_counter()
        drafts = draft_reminders(Path(db), AS_OF, "bench", None, options=options)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "drafts": len(drafts), "fell_back": 0, "rss_mb": _rss_mb()}
    with Sandbox(companies=[generate_demo_company(seed=1, n_customers=2, years=1)]) as box:
        box.llm_faults.delay_seconds, box.llm_faults.mode = latency, fault
        box.llm_faults.other_name = _a_customer(db)  # "other_customer" names a real customer of the business
        os.environ.update(box.llm_connection(timeout=latency + 10))
        config = load_config()
        started = time.perf_counter()
        drafts = draft_reminders(Path(db), AS_OF, "bench", config, options=options)
        seconds = time.perf_counter() - started
        requests = len(box.llm_faults.requests)
    planted = sum(1 for d in drafts if d.summary.get("flagged"))
    named = sum(1 for d in drafts if d.customer_name != box.llm_faults.other_name)
    return {
        "seconds": seconds,
        "drafts": len(drafts),
        "requests": requests,
        "fell_back": sum(d.generator == "template" for d in drafts),
        "planted": planted,
        "named_another": named,
        "rss_mb": _rss_mb(),
    }


def _rss_mb() -> float:
    return peak_mib()


def fresh(db: Path, mode: str, latency: float, concurrency: int, fault: str | None = None) -> dict:
    args = [sys.executable, __file__, "--run", str(db), mode, str(latency), str(concurrency), fault or ""]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--run":
        db, mode, latency, concurrency, fault = sys.argv[2:7]
        print(json.dumps(run_once(db, mode, float(latency), int(concurrency), fault or None)))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=950, help="customers per organisation (two)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the sandbox LLM takes per answer")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(f"{platform.platform()} · {os.cpu_count()} CPUs · {date.today()} · Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        db = build(Path(tmp), args.customers)
        print(f"warehouse: 2 x {args.customers} customers, built in {time.perf_counter() - started:.0f} s")
        for mode in ("template", "model"):
            runs = [fresh(db, mode, args.latency, args.concurrency) for _ in range(args.repeat)]
            seconds = statistics.median(r["seconds"] for r in runs)
            rss = statistics.median(r["rss_mb"] for r in runs)
            extra = f", {runs[0]['requests']} requests" if mode == "model" else ""
            print(
                f"{mode:8s}: {runs[0]['drafts']} drafts, median {seconds:.1f} s of {args.repeat}, "
                f"peak RSS {rss:.0f} MB, fell back {runs[0]['fell_back']}{extra}"
            )
        print(f"fault modes (latency 0 s, {args.concurrency} in flight): share of drafts falling back")
        for fault in (None, *FAULTS):
            run = fresh(db, "model", 0.0, args.concurrency, fault)
            share = run["fell_back"] / run["drafts"]
            faulty = {None: 0, "obey_instruction": run["planted"], "other_customer": run["named_another"]}.get(
                fault, run["drafts"]
            )
            print(
                f"  {fault or 'no fault':16s}: {run['fell_back']:4d} of {run['drafts']} ({share:.0%}); "
                f"faulty answers: {faulty}"
            )


if __name__ == "__main__":
    main()
