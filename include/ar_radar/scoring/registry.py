"""Trained payment-risk models, kept with their backtest metrics; which one scores.

``train`` fits the lateness and days-to-pay models on everything known today about an invoice history,
backtests the same recipe (rolling windows), saves both models (joblib, under the data directory) and
records a row in ``models.risk_models``. ``choose`` returns the newest model that is not worse than the
one before it: a retrain on a bad week of data does not replace a good model. ``train_due`` is the weekly
retrain: one model per organisation, trained on that organisation's own invoices (its rows of dbt's
``marts.invoice_features_history``). The CRM features (``features.CRM_FEATURES``) are backtested with and
without; the model keeps them only if they help (``crm_helps``), and its metrics record both.

Cold start: an organisation gets its own model only when its history can be backtested, i.e. at least
``backtest.MIN_TRAINING_ROWS`` invoices with a known outcome before the first test window (the median paid
invoice), so about twice that in all. Until then its invoices are scored by the documented prior
(``prior``'s rules-v1) and the score says so.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from ar_radar import database
from ar_radar.scoring import backtest
from ar_radar.scoring.features import CRM_FEATURES, FEATURE_SET, warehouse_history, with_outcomes
from ar_radar.scoring.model import ModelBundle

# A newer model may be this much worse on the backtest and still count as "not worse" (noise between runs).
ROC_AUC_TOLERANCE = 0.01
BRIER_TOLERANCE = 0.005
RETRAIN_EVERY_DAYS = 7
# The least ROC-AUC gain for which CRM signals are worth their columns (below it the gain is noise).
CRM_MIN_GAIN = 0.002


class NotEnoughHistory(ValueError):
    """Too little history with known outcomes to train and backtest a model (cold start)."""


@dataclass(frozen=True)
class ModelRecord:
    version: str
    tenant_id: str | None
    trained_at: str
    as_of_date: str
    invoices: int
    metrics: dict
    path: str


def train(
    history: pd.DataFrame,
    optional: list[str],
    as_of: date,
    db_path: Path,
    model_dir: Path,
    tenant_id: str | None = None,
) -> ModelRecord:
    """Fit on what is known at the start of as_of, backtest the recipe, save and record it.

    Raises NotEnoughHistory (cold start) when the history cannot be backtested."""
    cutoff = pd.Timestamp(as_of)
    # As of the cutoff: later invoices do not exist yet, later payments have not happened.
    known = history[history["invoice_date"] < cutoff]
    known = known.assign(paid_date=known["paid_date"].where(known["paid_date"] < cutoff))
    data = with_outcomes(known)
    train_late = backtest.known_at(data, cutoff, 0)
    try:
        pooled = backtest.predict_on(data, optional)  # the recipe's track record, rolling windows
    except ValueError as exc:
        raise NotEnoughHistory(
            f"{len(train_late):,} invoices with a known outcome (paid, or unpaid past due) before {as_of}: {exc}"
        ) from None
    crm = [c for c in optional if c in CRM_FEATURES]
    crm_report = None
    if crm:  # CRM signals stay in the model only if its backtest shows they help
        without_crm = [c for c in optional if c not in CRM_FEATURES]
        pooled_without = backtest.predict_on(data, without_crm)
        with_scores, without_scores = backtest.scores(pooled["model"]), backtest.scores(pooled_without["model"])
        kept = crm_helps(with_scores, without_scores)
        crm_report = {"columns": crm, "kept": kept, "with": with_scores, "without": without_scores}
        if not kept:
            optional, pooled = without_crm, pooled_without
    late, days_to_pay = backtest.fit(train_late, cutoff, optional)
    numeric, categorical = backtest.feature_columns(optional)
    bundle = ModelBundle(
        late=late,
        days_to_pay=days_to_pay,
        numeric=numeric,
        categorical=categorical,
        reference=train_late[numeric + categorical].sample(min(len(train_late), 20_000), random_state=0),
        residuals=np.sort(pooled["model"].days_to_pay - pooled["model"].predicted_days).astype("float32"),
        tenant_id=tenant_id,
    )
    trained_at = datetime.now(UTC)
    version = f"gam-{as_of.isoformat()}-{uuid.uuid4().hex[:6]}"
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / f"{version}.joblib"
    bundle.save(path)
    metrics = {
        **backtest.scores(pooled["model"]),
        "baselines": {name: backtest.scores(p) for name, p in pooled.items() if name != "model"},
        "invoices_scored": len(pooled["model"].late),
        "calibration": backtest.calibration_table(pooled["model"].late, pooled["model"].probability),
        "crm_signals": crm_report,
        "feature_set": FEATURE_SET,
    }
    record = ModelRecord(
        version, tenant_id, trained_at.isoformat(), as_of.isoformat(), len(train_late), metrics, str(path)
    )
    with database.connect(db_path, read_only=False) as con:
        database.ensure(con, "models.risk_models")
        con.execute(
            "INSERT INTO models.risk_models (version, tenant_id, trained_at, as_of_date, invoices, metrics, path) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [version, tenant_id, trained_at, as_of, len(train_late), json.dumps(metrics), str(path)],
        )
    return record


def crm_helps(with_crm: dict, without_crm: dict) -> bool:
    """CRM signals are kept when the backtest with them ranks better by at least CRM_MIN_GAIN ROC-AUC and is
    no worse calibrated (Brier): a column that only adds noise is left out."""
    return with_crm["roc_auc"] >= without_crm["roc_auc"] + CRM_MIN_GAIN and with_crm["brier"] <= without_crm["brier"]


def not_worse(newer: dict, older: dict) -> bool:
    return (
        newer["roc_auc"] >= older["roc_auc"] - ROC_AUC_TOLERANCE and newer["brier"] <= older["brier"] + BRIER_TOLERANCE
    )


def _records(con: duckdb.DuckDBPyConnection, tenant_id: str | None, as_of: date | None) -> list[ModelRecord]:
    rows = con.execute(
        "SELECT version, tenant_id, trained_at, as_of_date, invoices, metrics, path FROM models.risk_models "
        "WHERE tenant_id IS NOT DISTINCT FROM ? AND (? IS NULL OR as_of_date <= ?) "
        "AND coalesce(try_cast(metrics ->> 'feature_set' AS INTEGER), 1) = ? ORDER BY as_of_date, trained_at",
        [tenant_id, as_of, as_of, FEATURE_SET],
    ).fetchall()
    return [
        ModelRecord(version, tenant, trained.isoformat(), as_of.isoformat(), invoices, json.loads(metrics), path)
        for version, tenant, trained, as_of, invoices, metrics, path in rows
    ]


def choose(db_path: Path, tenant_id: str | None = None, as_of: date | None = None) -> ModelRecord | None:
    """The organisation's newest model not worse than the model in use before it; None when none is trained.
    With as_of, only models trained on what was known by then (a re-run of an old day never uses a later model).
    """
    with database.connect(db_path, read_only=True) as con:
        if not database.has_table(con, "models.risk_models"):
            return None
        records = _records(con, tenant_id, as_of)
    chosen = None
    for record in records:
        if chosen is None or not_worse(record.metrics, chosen.metrics):
            chosen = record
    return chosen


def train_due(
    db_path: Path, as_of: date, model_dir: Path, every_days: int = RETRAIN_EVERY_DAYS, force: bool = False
) -> list[dict]:
    """The weekly retrain: per organisation in the warehouse, train a model on its own invoices when its newest
    one is every_days old or more (or force). Returns per organisation what happened and which model scores."""
    history, optional = warehouse_history(db_path)
    with database.connect(db_path, read_only=False) as con:
        database.ensure(con, "models.risk_models")
        newest = {
            tenant: as_of_date
            for tenant, as_of_date in con.execute(
                "SELECT tenant_id, max(as_of_date) FROM models.risk_models WHERE as_of_date <= ? "
                "AND coalesce(try_cast(metrics ->> 'feature_set' AS INTEGER), 1) = ? GROUP BY tenant_id",
                [as_of, FEATURE_SET],
            ).fetchall()
        }
    outcomes = []
    for tenant_id, own in history.groupby("tenant_id", sort=True):
        last = newest.get(tenant_id)
        outcome: dict = {"tenant_id": tenant_id}
        if not force and last is not None and (as_of - last).days < every_days:
            outcome["status"] = f"current (trained on {last})"
        else:
            try:
                record = train(own.drop(columns="tenant_id"), optional, as_of, db_path, model_dir, tenant_id)
                outcome.update(status="trained", version=record.version, metrics=record.metrics)
            except NotEnoughHistory as exc:
                outcome["status"] = f"cold start: {exc}"
        chosen = choose(db_path, tenant_id, as_of)
        outcome["in_use"] = chosen.version if chosen else None
        outcomes.append(outcome)
    return outcomes
