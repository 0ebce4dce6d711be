"""Build the dbt warehouse (dbt-duckdb) in-process and turn failures into readable errors."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ar_radar.settings import Settings


class WarehouseBuildError(RuntimeError):
    """dbt build failed; the message lists the failing nodes."""


@dataclass(frozen=True)
class BuildSummary:
    passed: int
    warned: int
    warnings: tuple[str, ...]


def dbt_args(settings: Settings, command: str, as_of: date) -> list[str]:
    return [
        *command.split(),
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_project_dir),
        "--target-path",
        str(settings.data_dir / "dbt" / "target"),
        "--log-path",
        str(settings.data_dir / "dbt" / "logs"),
        "--vars",
        json.dumps({"as_of_date": as_of.isoformat()}),
    ]


def _release_duckdb() -> None:
    """dbt-duckdb caches its DuckDB handle per process; close it so later steps in the same
    process (``airflow dags test`` runs every task in one) can open the file, even read-only."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()


def _invoke(settings: Settings, command: str, as_of: date) -> object:
    """Run a dbt command in-process against the settings' DuckDB file; returns dbt's result."""
    from dbt.cli.main import dbtRunner  # heavy import: only when dbt runs

    os.environ["AR_RADAR_DB"] = str(settings.db_path)
    # No usage pings from a pipeline host (it has no internet; the attempt only costs time).
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        return dbtRunner().invoke(dbt_args(settings, command, as_of))
    finally:
        _release_duckdb()


def build_warehouse(settings: Settings, as_of: date, *, unit_tests: bool = False) -> BuildSummary:
    """``dbt build`` (seeds, snapshot, models and data tests) for ``as_of`` into the DuckDB file.

    dbt's unit tests check the SQL, not the data, so the daily run leaves them to CI (dbt's own advice;
    ``unit_tests=True`` runs them too): at a million invoices that is ~4 s of every build.
    """
    command = "build" if unit_tests else "build --exclude-resource-type unit_test"
    result = _invoke(settings, command, as_of)
    nodes = list(result.result or []) if result.result is not None else []
    failed = [n for n in nodes if str(n.status) in ("error", "fail")]
    if not result.success or failed:
        detail = "; ".join(
            f"{n.node.resource_type} {n.node.name}: {(n.message or '').strip()[:300]}" for n in failed
        ) or str(result.exception)
        raise WarehouseBuildError(
            f"dbt build failed for as_of_date {as_of}: {detail}. Reproduce with "
            f"`dbt build --project-dir dbt_project --profiles-dir dbt_project` (AR_RADAR_DB={settings.db_path}); "
            f"logs in {settings.data_dir / 'dbt' / 'logs'}."
        )
    warned = [n for n in nodes if str(n.status) == "warn"]
    return BuildSummary(
        passed=len(nodes) - len(warned),
        warned=len(warned),
        warnings=tuple(f"{n.node.name}: {(n.message or '').strip()}" for n in warned),
    )


def run_unit_tests(settings: Settings, as_of: date) -> int:
    """``dbt test --select test_type:unit`` (needs a built warehouse); returns how many passed."""
    result = _invoke(settings, "test --select test_type:unit", as_of)
    nodes = list(result.result or []) if result.result is not None else []
    failed = [n for n in nodes if str(n.status) in ("error", "fail")]
    if not result.success or failed:
        detail = "; ".join(f"{n.node.name}: {(n.message or '').strip()[:500]}" for n in failed) or str(result.exception)
        raise WarehouseBuildError(f"dbt unit tests failed: {detail}")
    return len(nodes)


def generate_docs(settings: Settings, as_of: date) -> Path:
    """``dbt docs generate``; returns the folder holding index.html and catalog.json."""
    result = _invoke(settings, "docs generate", as_of)
    if not result.success:
        raise WarehouseBuildError(f"dbt docs generate failed: {result.exception}")
    return settings.data_dir / "dbt" / "target"
