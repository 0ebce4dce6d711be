"""Benchmark: the payment-risk model's features, training and scoring at 1,000,000 invoices, 100,000 open.

    .venv/bin/python bench/risk_model_scale.py [--repeat 3] [--invoices 1000000] [--open 100000]

A synthetic history made with numpy (customers with their own lateness habit, a few disputes), then, in a
fresh child process per run: every invoice's features through the warehouse's own path (the CSV backtest's:
Xero-shaped landing files, the raw layer, dbt's invoice_features_history; ar_radar.scoring.history_csv),
fitting the lateness model (spline logistic regression) and the days-to-pay model on the paid invoices,
scoring the open ones, and explaining each open invoice (exact contributions, top three factors in words),
with threads bounded as in the pipeline (ar_radar.threads). Wall time per step and the child's peak RSS.
The tone of CRM texts is part of the dbt build now (int_crm_texts): bench/warehouse_scale.py times it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from peak_memory import peak_mib


def synthetic_history(invoices: int, open_invoices: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    customers = max(1, invoices // 20)
    customer = rng.integers(0, customers, invoices)
    habit = rng.choice([-3, 0, 2, 12, 25], customers)[customer]
    issued = pd.Timestamp("2024-11-01") + pd.to_timedelta(np.sort(rng.integers(0, 730, invoices)), unit="D")
    due = issued + pd.Timedelta(days=30)
    disputed = rng.random(invoices) < 0.03
    late = np.round(habit + rng.normal(0, 4, invoices) + 45 * disputed).astype(int)
    paid = due + pd.to_timedelta(late, unit="D")
    paid = pd.Series(paid).where(np.arange(invoices) < invoices - open_invoices)  # the newest are open
    return pd.DataFrame(
        {
            "customer_id": customer.astype(str),
            "invoice_id": np.arange(invoices).astype(str),
            "invoice_date": issued,
            "due_date": due,
            "amount": np.round(rng.lognormal(7, 0.6, invoices), 2),
            "paid_date": paid,
            "disputed": disputed.astype(float),
        }
    )


def child(invoices: int, open_invoices: int) -> None:
    from ar_radar.scoring.backtest import feature_columns
    from ar_radar.scoring.features import with_outcomes
    from ar_radar.scoring.history_csv import csv_features
    from ar_radar.scoring.model import contributions, days_to_pay_model, late_model, top_factors
    from ar_radar.threads import bounded

    history = synthetic_history(invoices, open_invoices)
    timings = {}
    start = time.perf_counter()
    data = with_outcomes(csv_features(history, ["disputed"]))  # landing -> raw -> dbt -> the feature mart
    timings["features"] = time.perf_counter() - start
    numeric, _ = feature_columns(["disputed"])
    paid, unpaid = data[data["paid_date"].notna()], data[data["paid_date"].isna()]
    with bounded() as threads:
        timings["threads"] = threads
        start = time.perf_counter()
        classifier = late_model(numeric, []).fit(paid[numeric], paid["late"])
        timings["fit_late"] = time.perf_counter() - start
        start = time.perf_counter()
        regressor = days_to_pay_model(numeric, []).fit(paid[numeric], paid["days_to_pay"])
        timings["fit_days"] = time.perf_counter() - start
        start = time.perf_counter()
        classifier.predict_proba(unpaid[numeric])
        regressor.predict(unpaid[numeric])
        timings["score_open"] = time.perf_counter() - start
        start = time.perf_counter()
        reference = paid[numeric].sample(min(len(paid), 100_000), random_state=0)
        top_factors(contributions(classifier, unpaid[numeric], reference), unpaid)
        timings["explain_open"] = time.perf_counter() - start
    timings["peak_mib"] = peak_mib()
    print(json.dumps(timings))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.invoices, args.open)
        return
    runs = []
    for _ in range(args.repeat):
        command = [sys.executable, __file__, "--child", "--invoices", str(args.invoices), "--open", str(args.open)]
        out = subprocess.run(command, check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print("  " + ", ".join(f"{k} {v:.1f}" for k, v in runs[-1].items()), flush=True)
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d')}  invoices: {args.invoices:,}  open: {args.open:,}  runs: {args.repeat}")
    for step in runs[0]:
        values = [r[step] for r in runs]
        unit = "MiB" if step == "peak_mib" else "s"
        print(
            f"{step:<11} median {statistics.median(values):.1f} {unit} (min {min(values):.1f}, max {max(values):.1f})"
        )


if __name__ == "__main__":
    main()
