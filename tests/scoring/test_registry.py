"""Models are trained on what was known, kept with their backtest metrics, and a worse retrain is not used."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import joblib
import numpy as np
from ar_radar.scoring.features import read_history
from ar_radar.scoring.registry import choose, crm_helps, not_worse, train

from tests.scoring.test_backtest import write_history


def test_train_records_a_model_and_choose_skips_a_worse_retrain(tmp_path):
    path = tmp_path / "history.csv"
    write_history(path, customers=60)
    history, optional = read_history(str(path))
    db, models = tmp_path / "ar.duckdb", tmp_path / "models"

    first = train(history, optional, date(2026, 6, 1), db, models)
    assert first.metrics["roc_auc"] > first.metrics["baselines"]["always_on_time"]["roc_auc"]  # 0.5
    assert "customer_past_average" in first.metrics["baselines"]
    saved = joblib.load(first.path)
    future = history["invoice_date"] >= "2026-06-01"
    assert len(saved["reference"]) > 0 and saved["numeric"][-1] == "disputed"
    # trained on the past only: invoices issued before the training date, outcomes known by then
    assert first.invoices <= len(history) - future.sum()
    paid_by_then = (history["paid_date"] < "2026-06-01").sum()
    assert 0 < first.metrics["invoices_scored"] <= paid_by_then  # a payment after the date is not an outcome
    assert saved["late"].n_features_in_ == len(saved["numeric"]) + len(saved["categorical"])
    assert choose(db).version == first.version

    second = train(history, optional, date(2026, 9, 1), db, models)
    assert choose(db).version == second.version or not not_worse(second.metrics, first.metrics)
    with duckdb.connect(str(db)) as con:  # a retrain that backtests worse is kept but not chosen
        worse = dict(second.metrics, roc_auc=second.metrics["roc_auc"] - 0.2)
        con.execute(
            "insert into models.risk_models (version, trained_at, as_of_date, invoices, metrics, path) "
            "values ('gam-worse', now(), '2026-10-01', 1, ?, 'none')",
            [json.dumps(worse)],
        )
        versions = con.execute("select count(*) from models.risk_models").fetchone()[0]
    assert versions == 3
    assert choose(db).version in (first.version, second.version)


def test_crm_helps_needs_a_real_gain_and_no_worse_calibration():
    base = {"roc_auc": 0.80, "brier": 0.15}
    assert crm_helps({"roc_auc": 0.81, "brier": 0.149}, base)
    assert not crm_helps({"roc_auc": 0.801, "brier": 0.149}, base)  # within noise
    assert not crm_helps({"roc_auc": 0.83, "brier": 0.151}, base)  # ranks better, calibrated worse


def test_crm_signals_are_kept_when_they_carry_news_and_left_out_when_noise(tmp_path):
    path = tmp_path / "history.csv"
    write_history(path, customers=60)
    history, _ = read_history(str(path))
    rng = np.random.default_rng(0)
    db, models = tmp_path / "ar.duckdb", tmp_path / "models"
    # dispute tickets in the CRM say which invoices will be paid late; nothing else in this history does
    news = history.assign(crm_dispute_mentions=history["disputed"]).drop(columns="disputed")
    kept = train(news, ["currency", "crm_dispute_mentions"], date(2026, 6, 1), db, models)
    assert kept.metrics["crm_signals"]["kept"] and "crm_dispute_mentions" in joblib.load(kept.path)["numeric"]
    noise = history.assign(crm_tone=rng.uniform(-1, 1, len(history)))
    dropped = train(noise, ["disputed", "currency", "crm_tone"], date(2026, 6, 1), db, models)
    report = dropped.metrics["crm_signals"]
    assert not report["kept"] and "crm_tone" not in joblib.load(dropped.path)["numeric"]
    assert dropped.metrics["roc_auc"] == report["without"]["roc_auc"]
