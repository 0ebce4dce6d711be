"""Models are trained on what was known, kept with their backtest metrics, and a worse retrain is not used."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import numpy as np
from ar_radar.scoring.features import FEATURE_SET
from ar_radar.scoring.model import ModelBundle
from ar_radar.scoring.registry import choose, crm_helps, not_worse, train


def test_train_records_a_model_and_choose_skips_a_worse_retrain(history_features, tmp_path):
    history, optional = history_features
    db, models = tmp_path / "ar.duckdb", tmp_path / "models"

    first = train(history, optional, date(2026, 6, 1), db, models)
    assert first.metrics["roc_auc"] > first.metrics["baselines"]["always_on_time"]["roc_auc"]  # 0.5
    assert "customer_past_average" in first.metrics["baselines"]
    saved = ModelBundle.load(first.path)
    future = history["invoice_date"] >= "2026-06-01"
    assert len(saved.reference) > 0 and saved.numeric[-1] == "disputed"
    # trained on the past only: invoices issued before the training date, outcomes known by then
    assert first.invoices <= len(history) - future.sum()
    paid_by_then = (history["paid_date"] < "2026-06-01").sum()
    assert 0 < first.metrics["invoices_scored"] <= paid_by_then  # a payment after the date is not an outcome
    assert saved.late.n_features_in_ == len(saved.numeric) + len(saved.categorical)
    assert choose(db).version == first.version and first.metrics["feature_set"] == FEATURE_SET

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


def test_a_model_of_an_older_feature_set_is_passed_by(history_features, tmp_path):
    """A model saved before the features moved to dbt cannot read today's columns: it is never chosen."""
    history, optional = history_features
    db, models = tmp_path / "ar.duckdb", tmp_path / "models"
    current = train(history, optional, date(2026, 6, 1), db, models)
    older = {k: v for k, v in current.metrics.items() if k != "feature_set"}  # as recorded before feature sets
    with duckdb.connect(str(db)) as con:
        con.execute(
            "insert into models.risk_models (version, trained_at, as_of_date, invoices, metrics, path) "
            "values ('gam-older', now(), '2026-07-01', 1, ?, 'none')",
            [json.dumps(older)],
        )
    assert choose(db).version == current.version


def test_crm_helps_needs_a_real_gain_and_no_worse_calibration():
    base = {"roc_auc": 0.80, "brier": 0.15}
    assert crm_helps({"roc_auc": 0.81, "brier": 0.149}, base)
    assert not crm_helps({"roc_auc": 0.801, "brier": 0.149}, base)  # within noise
    assert not crm_helps({"roc_auc": 0.83, "brier": 0.151}, base)  # ranks better, calibrated worse


def test_crm_signals_are_kept_when_they_carry_news_and_left_out_when_noise(history_features, tmp_path):
    history, _ = history_features
    rng = np.random.default_rng(0)
    db, models = tmp_path / "ar.duckdb", tmp_path / "models"
    # dispute tickets in the CRM say which invoices will be paid late; nothing else in this history does
    news = history.assign(recent_dispute_text_count=history["disputed"]).drop(columns="disputed")
    kept = train(news, ["currency", "recent_dispute_text_count"], date(2026, 6, 1), db, models)
    assert kept.metrics["crm_signals"]["kept"]
    assert "recent_dispute_text_count" in ModelBundle.load(kept.path).numeric
    noise = history.assign(recent_crm_tone=rng.uniform(-1, 1, len(history)))
    dropped = train(noise, ["disputed", "currency", "recent_crm_tone"], date(2026, 6, 1), db, models)
    report = dropped.metrics["crm_signals"]
    assert not report["kept"] and "recent_crm_tone" not in ModelBundle.load(dropped.path).numeric
    assert dropped.metrics["roc_auc"] == report["without"]["roc_auc"]
