"""Trained payment-risk models, kept with their backtest metrics; which one scores.

``train`` fits the lateness and days-to-pay models on everything known today about an invoice history,
backtests the same recipe (rolling windows), saves both models (joblib, under the data directory) and
records a row in ``models.risk_models``. ``choose`` returns the newest model that is not worse than the
one before it: a retrain on a bad week of data does not replace a good model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from ar_radar import backtest

# A newer model may be this much worse on the backtest and still count as "not worse" (noise between runs).
ROC_AUC_TOLERANCE = 0.01
BRIER_TOLERANCE = 0.005


@dataclass(frozen=True)
class ModelRecord:
    version: str
    trained_at: str
    as_of_date: str
    invoices: int
    metrics: dict
    path: str


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS models")
    con.execute("""CREATE TABLE IF NOT EXISTS models.risk_models (
        version VARCHAR PRIMARY KEY, trained_at TIMESTAMPTZ, as_of_date DATE, invoices BIGINT, metrics JSON,
        path VARCHAR)""")


def train(history: pd.DataFrame, optional: list[str], as_of: date, db_path: Path, model_dir: Path) -> ModelRecord:
    """Fit on what is known at the start of as_of, backtest the recipe, save and record it."""
    import joblib

    cutoff = pd.Timestamp(as_of)
    # As of the cutoff: later invoices do not exist yet, later payments have not happened.
    known = history[history["invoice_date"] < cutoff]
    known = known.assign(paid_date=known["paid_date"].where(known["paid_date"] < cutoff))
    data = backtest.features_frame(known)
    pooled = backtest.predict_on(data, optional)  # the recipe's track record, rolling windows
    train_late = backtest.known_at(data, cutoff, 0)
    late, days_to_pay = backtest.fit(train_late, cutoff, optional)
    numeric, categorical = backtest.feature_columns(optional)
    models = {
        "late": late,
        "days_to_pay": days_to_pay,
        "numeric": numeric,
        "categorical": categorical,
        # the explanations' reference: contributions are relative to an average training invoice
        "reference": train_late[numeric + categorical].sample(min(len(train_late), 20_000), random_state=0),
    }
    trained_at = datetime.now(UTC)
    version = f"gam-{as_of.isoformat()}-{trained_at:%H%M%S}"
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / f"{version}.joblib"
    joblib.dump(models, path)
    metrics = {
        **backtest.scores(pooled["model"]),
        "baselines": {name: backtest.scores(p) for name, p in pooled.items() if name != "model"},
        "invoices_scored": len(pooled["model"].late),
    }
    record = ModelRecord(version, trained_at.isoformat(), as_of.isoformat(), len(train_late), metrics, str(path))
    with duckdb.connect(str(db_path)) as con:
        _ensure(con)
        con.execute(
            "INSERT INTO models.risk_models VALUES (?, ?, ?, ?, ?, ?)",
            [version, trained_at, as_of, len(train_late), json.dumps(metrics), str(path)],
        )
    return record


def not_worse(newer: dict, older: dict) -> bool:
    return (
        newer["roc_auc"] >= older["roc_auc"] - ROC_AUC_TOLERANCE and newer["brier"] <= older["brier"] + BRIER_TOLERANCE
    )


def choose(db_path: Path) -> ModelRecord | None:
    """The newest model not worse than the model that was in use before it; None when none is trained."""
    with duckdb.connect(str(db_path)) as con:
        _ensure(con)
        rows = con.execute(
            "SELECT version, trained_at, as_of_date, invoices, metrics, path FROM models.risk_models "
            "ORDER BY trained_at"
        ).fetchall()
    chosen = None
    for version, trained_at, as_of, invoices, metrics, path in rows:
        record = ModelRecord(version, trained_at.isoformat(), as_of.isoformat(), invoices, json.loads(metrics), path)
        if chosen is None or not_worse(record.metrics, chosen.metrics):
            chosen = record
    return chosen
