"""The backtest on a small invoice history made by code, through the function and the CLI."""

from __future__ import annotations

import json

import pytest
from ar_radar.scoring.backtest import run_backtest


def test_the_model_beats_always_on_time_and_uses_the_dispute_column(history_features):
    frame, optional = history_features
    report = run_backtest(frame, optional, folds=4)
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
    """Through the command line (click's runner, in this process: the same command a user runs), on a smaller
    history than the function's test: this one checks the command's plumbing, not the model."""
    from ar_radar.cli import main
    from click.testing import CliRunner

    from tests.scoring.histories import write_history

    small = tmp_path / "small.csv"
    write_history(small, customers=30)
    runner = CliRunner()
    result = runner.invoke(main, ["backtest", "--csv", str(small), "--folds", "2", "--json"])
    assert result.exit_code == 0, result.output[-2000:]
    report = json.loads(result.stdout)
    assert {"roc_auc", "pr_auc", "brier", "mae_days", "baselines"} <= report.keys()
    assert set(report["baselines"]) == {"always_on_time", "customer_past_average"}

    leaky = tmp_path / "leaky.csv"
    leaky.write_text(history_csv.read_text().replace("currency\n", "currency,status\n", 1))
    refused = runner.invoke(main, ["backtest", "--csv", str(leaky)])
    assert refused.exit_code != 0 and "status give the payment outcome away" in refused.output
