"""Scoring fixtures built once per session: an invoice-history CSV and its features from dbt's models."""

from __future__ import annotations

import pytest
from ar_radar.scoring.history_csv import csv_features, read_history

from tests.scoring.histories import write_history


@pytest.fixture(scope="session")
def history_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("history") / "history.csv"
    write_history(path)
    return path


@pytest.fixture(scope="session")
def history_features(history_csv):
    """(invoices with their features from the warehouse's dbt models, the CSV's optional columns)."""
    history, optional = read_history(str(history_csv))
    return csv_features(history, optional), optional
