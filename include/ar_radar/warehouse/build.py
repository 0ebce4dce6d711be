"""Build the dbt warehouse (dbt-duckdb) in-process and turn failures into readable errors."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from ar_radar import database
from ar_radar.raw.store import add_missing_record_keys
from ar_radar.settings import Settings
from ar_radar.threads import task_threads

log = logging.getLogger(__name__)


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
    full_refresh: bool = False  # every model rebuilt from every raw version
    reason: str = ""  # why it was (empty for an incremental build)


def dbt_args(settings: Settings, command: str, variables: dict | None = None) -> list[str]:
    """dbt's command line. ``variables``: --vars, only for what stays the same from build to build (a var that
    changes makes dbt parse the whole project again); what changes is passed as ``RunValues``."""
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
        *(["--vars", json.dumps(variables)] if variables else []),
    ]


@dataclass(frozen=True)
class RunValues:
    """What changes from one build to the next, for dbt's macro run_value (environment variables AR_RADAR_<NAME>,
    read only while dbt executes, so dbt reuses its parse of the project: ~3 s of every build)."""

    as_of_date: date
    changed_since: datetime | None = None  # the last finished build's raw watermark (None: every customer)
    previous_as_of: date | None = None  # that build's as_of_date

    def environment(self) -> dict[str, str]:
        values = vars(self).items()
        return {_run_value_variable(name): "" if value is None else value.isoformat() for name, value in values}


def _run_value_variable(name: str) -> str:
    """The environment variable of a run value (macro run_value reads the same name)."""
    return f"AR_RADAR_{name.upper()}"


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for a dbt invocation and restore them after: ``airflow dags test`` runs every
    task in one process, and a changed_since left behind would make a later partial build incremental."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _release_duckdb() -> None:
    """dbt-duckdb caches its DuckDB handle per process; close it so later steps in the same
    process (``airflow dags test`` runs every task in one) can open the file, even read-only."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()


def _invoke(settings: Settings, command: str, run: RunValues | date, variables: dict | None = None) -> object:
    """Run a dbt command in-process against the settings' DuckDB file; returns dbt's result. ``run``: the run
    values, or only the as_of_date."""
    from dbt.cli.main import dbtRunner  # heavy import: only when dbt runs

    run = run if isinstance(run, RunValues) else RunValues(run)
    os.environ["AR_RADAR_DB"] = str(settings.db_path)
    os.environ["AR_RADAR_THREADS"] = str(task_threads())  # the profile's DuckDB threads
    os.environ["AR_RADAR_DUCKDB_MEMORY_LIMIT"] = database.memory_limit()  # and its memory cap
    # No usage pings from a pipeline host (it has no internet; the attempt only costs time).
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        with _environment(run.environment()):
            return dbtRunner().invoke(dbt_args(settings, command, variables))
    finally:
        _release_duckdb()


SNAPSHOT = "snapshots.invoice_status_history"


def snapshot_ids_as_uuids(con: duckdb.DuckDBPyConnection) -> None:
    """Staging keeps Xero's ids as UUIDs (dbt macro xero_id). A full rebuild remakes every table but the snapshot,
    which keeps its history (dbt never drops one): on a file an older version built, its id columns are turned into
    UUIDs in place, rows kept, before dbt compares it with staging (a VARCHAR against a UUID fails the day's build).
    """
    schema, table = SNAPSHOT.split(".")
    textual = con.execute(
        "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
        "and column_name in ('tenant_id', 'invoice_id', 'contact_id') and data_type = 'VARCHAR'",
        [schema, table],
    ).fetchall()
    for (column,) in textual:
        con.execute(f"alter table {SNAPSHOT} alter column {column} type uuid using cast({column} as uuid)")


def _advice(failure: str) -> str:
    """What to do about a failure the data, not the project, causes."""
    not_a_guid = (
        "to UUID" in failure
        or "to 'UUID'" in failure
        or any(f'converting column "{column}"' in failure for column in ("tenant_id", "xero_contact_id"))
    )
    if not_a_guid and "seed " in failure:
        return (
            "A Xero id in that seed file (dbt_project/seeds/) is not a GUID: copy the organisation's or contact's "
            "id from Xero (a contact's page address ends in its ContactID). "
        )
    if not_a_guid:
        return (
            "A Xero id (organisation, contact, invoice, payment, credit) is not a GUID, so the record did not come "
            "from Xero's API as it is (an import or a proxy changed it); raw keeps it as sent: find it with "
            "`select * from raw.xero_<stream> where try_cast(tenant_id as uuid) is null or "
            "try_cast(record_id as uuid) is null` (or an id in its payload), correct it at its source and load it "
            "again. "
        )
    return ""


def _nodes_or_failure(result: object, limit: int) -> tuple[list, str | None]:
    """dbt's node results, and a description of the failed ones (None when nothing failed)."""
    nodes = list(result.result or []) if result.result is not None else []
    failed = [n for n in nodes if str(n.status) in ("error", "fail")]
    if result.success and not failed:
        return nodes, None
    detail = "; ".join(f"{n.node.resource_type} {n.node.name}: {(n.message or '').strip()[:limit]}" for n in failed)
    return nodes, detail or str(result.exception)


def project_hash(settings: Settings) -> str:
    """A hash of everything that shapes the warehouse's tables: the dbt project (models, macros, seeds, snapshots,
    config) and DuckDB's version, whose hash() makes the stored customer keys (dbt macro customer_key): a kept row's
    key must match one computed today."""
    digest = hashlib.sha256(f"duckdb {duckdb.__version__}\0".encode())
    root = settings.dbt_project_dir
    files = [root / "dbt_project.yml"] + sorted(
        f for d in ("models", "macros", "seeds", "snapshots") for f in (root / d).rglob("*") if f.is_file()
    )
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class _LastBuild:
    project_hash: str | None
    as_of: date | None
    raw_loaded_through: datetime | None
    finished: bool


def _last_build(con: object) -> _LastBuild | None:
    if not database.has_table(con, "ops.warehouse_builds"):
        return None
    found = con.execute(
        "select project_hash, as_of_date, raw_loaded_through, coalesce(finished, true) from ops.warehouse_builds "
        "order by built_at desc limit 1"
    ).fetchall()
    return _LastBuild(*found[0]) if found else None


def _raw_loaded_through(con: object) -> datetime | None:
    """The newest load of any raw table: the next build treats rows loaded after it as changed."""
    tables = con.execute(
        "select schema_name || '.' || table_name from duckdb_columns() "
        "where schema_name = 'raw' and column_name = 'loaded_at' and table_name in "
        "(select table_name from duckdb_tables() where schema_name = 'raw')"
    ).fetchall()
    if not tables:
        return None
    union = " union all ".join(f"select max(loaded_at) as loaded_at from {t}" for (t,) in tables)
    return con.execute(f"select max(loaded_at) from ({union})").fetchall()[0][0]


def _record_start(con: object, as_of: date, project: str, full_refresh: bool, through: datetime | None) -> datetime:
    """A build's row in ops.warehouse_builds, unfinished until build_warehouse marks it (a partial build never
    does, so the build after it is a full one); returns its built_at, the row's key."""
    [(started,)] = con.execute(
        "insert into ops.warehouse_builds (built_at, as_of_date, project_hash, full_refresh, raw_loaded_through, "
        "finished) values (now(), ?, ?, ?, ?, false) returning built_at",
        [as_of, project, full_refresh, through],
    ).fetchall()
    return started


def _record_nodes(con: object, started: datetime, nodes: list) -> None:
    """Each node's outcome and time in ops.warehouse_build_nodes, keyed by the build's built_at."""
    rows = [
        (
            started,
            n.node.unique_id,
            str(n.node.resource_type),
            str(n.status),
            float(n.execution_time or 0.0),
            (n.message or "")[:500] or None,
        )
        for n in nodes
    ]
    database.ensure(con, "ops.warehouse_build_nodes")
    if rows:
        con.executemany("insert into ops.warehouse_build_nodes values (?, ?, ?, ?, ?, ?)", rows)


def _full_refresh_reason(last: _LastBuild | None, project: str, as_of: date) -> str | None:
    """Why this build must rebuild every model from every raw version (None: it may be incremental)."""
    if last is None:
        return "no earlier build"
    if last.project_hash != project:
        return "the dbt project or DuckDB changed since the last build"
    if not last.finished:
        return "the last build did not finish"
    if last.raw_loaded_through is None:
        return "the last build did not record how far it read"
    if last.as_of is not None and as_of < last.as_of:
        return f"as_of_date {as_of} is before the last build's {last.as_of}"
    return None


def build_warehouse(settings: Settings, as_of: date, full_refresh: bool = False) -> BuildSummary:
    """``dbt build`` (seeds, snapshot, models and data tests) for ``as_of`` into the DuckDB file.

    Incremental: staging parses only records with a version loaded since the last build, and the customer
    models recompute only the customers those records touch, each from the first day whose history they can
    change (``int_touched_customers.recompute_from``), and the monthly ledger only the organisations they touch,
    each from the first month they can change (``int_touched_organisations.recompute_from``; the run values
    ``changed_since`` and ``previous_as_of``). Everything is rebuilt from every raw version when
    ``full_refresh`` is asked for, when the dbt project or DuckDB changed since the last build (a changed model
    must not meet old rows, nor a stored customer key a new hash), when the last build did not finish, or for an
    as_of_date before the last build's.
    ``ops.warehouse_builds`` keeps each build: when it started, how far it read raw, whether it finished. The seeds
    are loaded by full rebuilds only (a changed seed changes the project's hash).

    dbt's unit tests check the SQL, not the data, so the daily run leaves them to CI (dbt's own advice;
    ``run_unit_tests`` runs them): at a million invoices that is ~4 s of every build.
    """
    current = project_hash(settings)
    with database.connect(settings.db_path, read_only=False) as con:
        add_missing_record_keys(con)  # raw as the models read it, on a file last loaded by an older version
        snapshot_ids_as_uuids(con)
        database.ensure(con, "ops.warehouse_builds")
        last = _last_build(con)
        reason = "asked for" if full_refresh else _full_refresh_reason(last, current, as_of)
        through = _raw_loaded_through(con)
        started = _record_start(con, as_of, current, reason is not None, through)
    full_refresh = reason is not None
    run = RunValues(as_of) if full_refresh else RunValues(as_of, last.raw_loaded_through, last.as_of)
    # --no-write-json: dbt's manifest.json and run_results.json cost ~0.7 s of every build; the nodes' outcomes and
    # times go to ops.warehouse_build_nodes instead (a hand `dbt build` or `dbt docs generate` writes the artefacts).
    # An incremental build leaves the seeds (and the tests on them alone) as the last build loaded them: a changed
    # seed changes the project's hash, and so makes this a full rebuild (~0.7 s of every daily build). Cautious
    # indirect selection keeps the tests that also read a model (fct_ar_aging's relationships to aging_buckets).
    command = "build --no-write-json --exclude-resource-type unit_test" + (
        " --full-refresh" if full_refresh else " --exclude resource_type:seed --indirect-selection cautious"
    )
    result = _invoke(settings, command, run)
    nodes, failure = _nodes_or_failure(result, 600)
    with database.connect(settings.db_path, read_only=False) as con:
        _record_nodes(con, started, nodes)
        if not failure:
            con.execute("update ops.warehouse_builds set finished = true where built_at = ?", [started])
    if failure:
        raise WarehouseBuildError(
            f"dbt build failed for as_of_date {as_of}: {failure}. {_advice(failure)}Reproduce with "
            f"`dbt build --project-dir dbt_project --profiles-dir dbt_project --vars '{{as_of_date: {as_of}}}'` "
            f"(AR_RADAR_DB={settings.db_path}); "
            f"logs in {settings.data_dir / 'dbt' / 'logs'}. The next build rebuilds in full."
        )
    warned = [n for n in nodes if str(n.status) == "warn"]
    log.info(
        "warehouse %s (%s)",
        "rebuilt in full" if full_refresh else "built incrementally",
        reason or "no reason for a full rebuild",
    )
    return BuildSummary(
        passed=len(nodes) - len(warned),
        warned=len(warned),
        warnings=tuple(f"{n.node.name}: {(n.message or '').strip()}" for n in warned),
        full_refresh=full_refresh,
        reason=reason or "",
    )


def build_models(
    settings: Settings, as_of: date, select: str, variables: dict | None = None, full_refresh: bool = False
) -> None:
    """``dbt build`` of the selected models and seeds only (dbt's selection syntax), without tests and without
    writing dbt's JSON artefacts (a partial build's manifest serves nobody). ``full_refresh``: staging from every
    raw version (an incremental build only sees versions added, never raw rows taken away).

    Without the run value changed_since every customer counts as touched, so the selected customer models are
    recomputed whole; and the next ``build_warehouse`` rebuilds in full (a partial build is recorded as an
    unfinished one), since it cannot tell what a selection changed."""
    command = f"build --quiet --no-write-json --select {select} --resource-type model --resource-type seed"
    command += " --full-refresh" if full_refresh else ""
    with database.connect(settings.db_path, read_only=False) as con:
        database.ensure(con, "ops.warehouse_builds")
        _record_start(con, as_of, project_hash(settings), full_refresh, None)
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
