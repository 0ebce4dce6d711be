"""The backtest on a small invoice history made by code, through the function and the CLI."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import date, timedelta

import pytest
from ar_radar.scoring.backtest import run_backtest
from ar_radar.scoring.features import read_history


def write_history(path, customers: int = 80, months: int = 24, seed: int = 3) -> None:
    """Customers with their own lateness habit; disputed invoices are paid much later; the newest are open."""
    rng = random.Random(seed)
    start, end = date(2024, 11, 1), date(2026, 11, 1)
    lines = ["customer_id,invoice_id,invoice_date,due_date,amount,paid_date,disputed,currency"]
    number = 0
    for c in range(customers):
        habit = rng.choice([-3, 0, 2, 12, 25])  # typical days paid after due
        currency = rng.choice(["GBP", "EUR"])
        day = start + timedelta(days=rng.randint(0, 20))
        while day < end:
            number += 1
            due = day + timedelta(days=30)
            disputed = rng.random() < 0.08
            late = habit + rng.gauss(0, 4) + (45 if disputed else 0)
            paid = due + timedelta(days=round(late))
            paid_text = paid.isoformat() if paid < end else ""
            amount = round(rng.lognormvariate(7, 0.6), 2)
            lines.append(f"C{c},I{number},{day},{due},{amount},{paid_text},{int(disputed)},{currency}")
            day += timedelta(days=rng.randint(10, 40))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def history_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("backtest") / "history.csv"
    write_history(path)
    return path


def test_the_model_beats_always_on_time_and_uses_the_dispute_column(history_csv):
    history, optional = read_history(str(history_csv))
    report = run_backtest(history, optional, folds=4)
    assert optional == ["disputed", "currency"] and report["invoices_scored"] > 500
    always = report["baselines"]["always_on_time"]
    assert always["roc_auc"] == 0.5 and always["brier"] == pytest.approx(report["late_share"], abs=1e-3)
    past = report["baselines"]["customer_past_average"]
    assert report["roc_auc"] > 0.75 and report["roc_auc"] >= past["roc_auc"] - 0.01
    assert report["brier"] < always["brier"]
    assert report["mae_days"] < always["mae_days"]
    # disputes drive lateness here, and nothing else says which invoice is disputed
    assert report["roc_auc"] > report["variants"]["without disputed"]["roc_auc"] + 0.02
    assert sum(row["invoices"] for row in report["calibration"]) == report["invoices_scored"]


def test_cli_prints_one_json_object_and_refuses_leakage(history_csv, tmp_path):
    command = [sys.executable, "-m", "ar_radar", "backtest", "--csv", str(history_csv), "--folds", "3", "--json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=os.environ)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert {"roc_auc", "pr_auc", "brier", "mae_days", "baselines"} <= report.keys()
    assert set(report["baselines"]) == {"always_on_time", "customer_past_average"}

    leaky = tmp_path / "leaky.csv"
    leaky.write_text(history_csv.read_text().replace("currency\n", "currency,status\n", 1))
    refused = subprocess.run([*command[:4], "--csv", str(leaky)], capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "status give the payment outcome away" in refused.stderr


def test_features_line_up_with_their_invoices_whatever_the_index(history_csv):
    from ar_radar.scoring.backtest import features_frame

    history, _ = read_history(str(history_csv))
    subset = history[history["customer_id"].isin(["C1", "C7"])]  # a gappy index, as after a filter
    gappy = features_frame(subset).set_index("invoice_id")
    fresh = features_frame(subset.reset_index(drop=True)).set_index("invoice_id")
    assert gappy.equals(fresh) and gappy["prior_paid"].notna().all()
