"""Scoring fixtures built once per test run: an invoice-history CSV and its features from dbt's models."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from ar_radar.scoring.history_csv import csv_features, read_history

from tests.conftest import built_once
from tests.scoring.histories import write_history


@pytest.fixture(scope="session")
def history_csv(tmp_path_factory):
    return built_once(tmp_path_factory, "history-csv", lambda folder: write_history(folder / "history.csv")) / (
        "history.csv"
    )


@pytest.fixture(scope="session")
def history_features(history_csv, tmp_path_factory):
    """(invoices with their features from the warehouse's dbt models, the CSV's optional columns)."""

    def build(folder):
        history, optional = read_history(str(history_csv))
        csv_features(history, optional).to_pickle(folder / "features.pkl")
        (folder / "optional.json").write_text(json.dumps(optional))

    folder = built_once(tmp_path_factory, "history-features", build)
    return pd.read_pickle(folder / "features.pkl"), json.loads((folder / "optional.json").read_text())
