"""Build the dbt warehouse (dbt-duckdb) in-process and turn failures into readable errors."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ar_radar import database
from ar_radar.settings import Settings
from ar_radar.threads import task_threads


def project_var(name: str) -> object:
    """A var's default in dbt_project.yml (one definition, for the Python that must agree with the SQL)."""
    import yaml

    project = Settings.from_env().dbt_project_dir / "dbt_project.yml"
    return yaml.safe_load(project.read_text(encoding="utf-8"))["vars"][name]


class WarehouseBuildError(RuntimeError):
    """dbt build failed; the message lists the failing nodes."""


@dataclass(frozen=True)
class BuildSummary:
    passed: int
    warned: int
    warnings: tuple[str, ...]
    full_refresh: bool = False  # staging rebuilt from every raw version (asked for, or the dbt project changed)


def dbt_args(settings: Settings, command: str, as_of: date, variables: dict | None = None) -> list[str]:
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
        json.dumps({"as_of_date": as_of.isoformat(), **(variables or {})}),
    ]


def _release_duckdb() -> None:
    """dbt-duckdb caches its DuckDB handle per process; close it so later steps in the same
    process (``airflow dags test`` runs every task in one) can open the file, even read-only."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()


def _invoke(settings: Settings, command: str, as_of: date, variables: dict | None = None) -> object:
    """Run a dbt command in-process against the settings' DuckDB file; returns dbt's result."""
    from dbt.cli.main import dbtRunner  # heavy import: only when dbt runs

    os.environ["AR_RADAR_DB"] = str(settings.db_path)
    os.environ["AR_RADAR_THREADS"] = str(task_threads())  # the profile's DuckDB threads
    # No usage pings from a pipeline host (it has no internet; the attempt only costs time).
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        return dbtRunner().invoke(dbt_args(settings, command, as_of, variables))
    finally:
        _release_duckdb()


def _nodes_or_failure(result: object, limit: int) -> tuple[list, str | None]:
    """dbt's node results, and a description of the failed ones (None when nothing failed)."""
    nodes = list(result.result or []) if result.result is not None else []
    failed = [n for n in nodes if str(n.status) in ("error", "fail")]
    if result.success and not failed:
        return nodes, None
    detail = "; ".join(f"{n.node.resource_type} {n.node.name}: {(n.message or '').strip()[:limit]}" for n in failed)
    return nodes, detail or str(result.exception)


def project_hash(settings: Settings) -> str:
    """A hash of everything in the dbt project that shapes its tables (models, macros, seeds, snapshots, config)."""
    digest = hashlib.sha256()
    root = settings.dbt_project_dir
    files = [root / "dbt_project.yml"] + sorted(
        f for d in ("models", "macros", "seeds", "snapshots") for f in (root / d).rglob("*") if f.is_file()
    )
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _last_built_hash(db_path: Path) -> str | None:
    if not Path(db_path).exists():
        return None
    with database.connect(db_path, read_only=False) as con:
        if not database.has_table(con, "ops.warehouse_builds"):
            return None
        found = con.execute("select project_hash from ops.warehouse_builds order by built_at desc limit 1").fetchone()
    return found[0] if found else None


def build_warehouse(settings: Settings, as_of: date, full_refresh: bool = False) -> BuildSummary:
    """``dbt build`` (seeds, snapshot, models and data tests) for ``as_of`` into the DuckDB file.

    Staging is incremental (only records with a version loaded since the last build are parsed); it is rebuilt
    from every raw version when ``full_refresh`` is asked for or when the dbt project changed since the last
    build (``ops.warehouse_builds`` keeps each build's project hash): a changed model must not meet old rows.

    dbt's unit tests check the SQL, not the data, so the daily run leaves them to CI (dbt's own advice;
    ``run_unit_tests`` runs them): at a million invoices that is ~4 s of every build.
    """
    current = project_hash(settings)
    full_refresh = full_refresh or _last_built_hash(settings.db_path) != current
    command = "build --exclude-resource-type unit_test" + (" --full-refresh" if full_refresh else "")
    result = _invoke(settings, command, as_of)
    nodes, failure = _nodes_or_failure(result, 300)
    if failure:
        raise WarehouseBuildError(
            f"dbt build failed for as_of_date {as_of}: {failure}. Reproduce with "
            f"`dbt build --project-dir dbt_project --profiles-dir dbt_project` (AR_RADAR_DB={settings.db_path}); "
            f"logs in {settings.data_dir / 'dbt' / 'logs'}."
        )
    warned = [n for n in nodes if str(n.status) == "warn"]
    with database.connect(settings.db_path, read_only=False) as con:
        database.ensure(con, "ops.warehouse_builds")
        con.execute("insert into ops.warehouse_builds values (now(), ?, ?, ?)", [as_of, current, full_refresh])
    return BuildSummary(
        passed=len(nodes) - len(warned),
        warned=len(warned),
        warnings=tuple(f"{n.node.name}: {(n.message or '').strip()}" for n in warned),
        full_refresh=full_refresh,
    )


def build_models(
    settings: Settings, as_of: date, select: str, variables: dict | None = None, full_refresh: bool = False
) -> None:
    """``dbt build`` of the selected models and seeds only (dbt's selection syntax), without tests and without
    writing dbt's JSON artefacts (a partial build's manifest serves nobody). ``full_refresh``: staging from every
    raw version (an incremental build only sees versions added, never raw rows taken away)."""
    command = f"build --quiet --no-write-json --select {select} --resource-type model --resource-type seed"
    command += " --full-refresh" if full_refresh else ""
    nodes, failure = _nodes_or_failure(_invoke(settings, command, as_of, variables), 500)
    if failure:
        raise WarehouseBuildError(f"dbt could not build {select} for as_of_date {as_of}: {failure}")


def build_features(settings: Settings, as_of: date, grace_days: int = 0) -> None:
    """Only ``marts.invoice_features_history`` and the models and seeds it needs: the CSV backtest's warehouse
    (a file of its own, so data tests would only repeat what read_history checked)."""
    build_models(settings, as_of, "+invoice_features_history", {"grace_days": grace_days})


def run_unit_tests(settings: Settings, as_of: date) -> int:
    """``dbt test --select test_type:unit`` (needs a built warehouse); returns how many passed."""
    nodes, failure = _nodes_or_failure(_invoke(settings, "test --select test_type:unit", as_of), 500)
    if failure:
        raise WarehouseBuildError(f"dbt unit tests failed: {failure}")
    return len(nodes)


def generate_docs(settings: Settings, as_of: date) -> Path:
    """``dbt docs generate``; returns the folder holding index.html and catalog.json."""
    result = _invoke(settings, "docs generate", as_of)
    if not result.success:
        raise WarehouseBuildError(f"dbt docs generate failed: {result.exception}")
    return settings.data_dir / "dbt" / "target"
