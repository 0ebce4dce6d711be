"""The data-health gate: validate warehouse tables with Great Expectations before scoring.

GX cannot validate DuckDB through SQL (see ARCHITECTURE.md), so each checked table is read
read-only into a DataFrame and validated by the committed validation definition of the same
name. Results are stored in ``ops.data_health_runs`` / ``ops.data_health_checks``.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb

from ar_radar import source_schema
from ar_radar.data_health_suites import checked_tables, load_config

log = logging.getLogger(__name__)

DATA_DOCS_SITE = "local_site"


@dataclass
class CheckResult:
    table: str
    check: str
    column: str | None
    severity: str
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    threshold: str = ""
    example_ids: list[str] = field(default_factory=list)
    error: str | None = None
    advice: str = ""
    passed_last_at: str | None = None  # when this check last passed (filled from the run history)

    def describe(self) -> str:
        """One line an owner can read."""
        where = f"{self.table}.{self.column}" if self.column else self.table
        name = self.check.removeprefix("expect_").replace("_", " ")
        if self.error:
            return f"{where}: could not check '{name}': {self.error}"
        if self.unexpected_count is None:
            observed = f"observed {self.element_count} rows"
        else:
            observed = (
                f"{self.unexpected_count} of {self.element_count} rows ({self.unexpected_percent or 0:.1f}%) fail"
            )
        examples = f"; for example {', '.join(self.example_ids[:3])}" if self.example_ids else ""
        return f"{where}: {name}: {observed} (allowed: {self.threshold}){examples}"


@dataclass
class HealthReport:
    run_id: str
    as_of_date: str
    checked_at: str
    checks: list[CheckResult]
    data_docs: dict[str, str] = field(default_factory=dict)  # table -> its GX Data Docs page (a file)

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.severity == "critical"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.severity != "critical"]

    @property
    def passed(self) -> bool:
        return not self.critical_failures


def _threshold(check: str, kwargs: dict) -> str:
    """What the check allows, in words: its bounds, and how many rows may miss them."""
    if "min_value" in kwargs and "column" not in kwargs:
        return f"at least {kwargs['min_value']} rows"
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None:
        bounds = f"values equal to {low}" if low == high else f"values between {low} and {high}"
    elif low is not None:
        bounds = f"values of at least {low}"
    elif high is not None:
        bounds = f"values of at most {high}"
    elif "value_set" in kwargs:
        values = list(kwargs["value_set"])
        shown = ", ".join(map(str, values)) if len(values) <= 8 else f"{len(values)} listed values"
        bounds = f"values {'not ' if '_not_be_in_set' in check else ''}among {shown}"
    else:
        bounds = ""
    mostly = kwargs.get("mostly", 1)
    share = "none" if mostly >= 1 else f"up to {100 * (1 - mostly):.0f}% of rows"
    return f"{bounds}, failing rows: {share}" if bounds else share


def _clean(value: object) -> object:
    return None if isinstance(value, float) and math.isnan(value) else value


def _to_check(table: str, result: object, frame_ids: list[str]) -> CheckResult:
    config = result.expectation_config
    kwargs = dict(config.kwargs)
    res = result.result or {}
    column = (
        kwargs.get("column")
        or ",".join(kwargs.get("column_list", []))
        or (f"{kwargs['column_A']}/{kwargs['column_B']}" if "column_A" in kwargs else None)
    )
    examples = list(
        dict.fromkeys(
            str(frame_ids[i])
            for i in res.get("partial_unexpected_index_list") or []
            if isinstance(i, int) and i < len(frame_ids)
        )
    )[:5]
    error = None
    if result.exception_info and result.exception_info.get("raised_exception"):
        error = str(result.exception_info.get("exception_message"))[:300]
    unexpected = res.get("unexpected_count")
    if config.type == "expect_table_row_count_to_be_between":
        unexpected = None
    return CheckResult(
        table=table,
        check=config.type,
        column=column,
        severity=str(getattr(config.severity, "value", config.severity) or "critical"),
        success=bool(result.success),
        element_count=res.get("element_count", res.get("observed_value")),
        unexpected_count=unexpected,
        unexpected_percent=_clean(res.get("unexpected_percent")),
        threshold=_threshold(config.type, kwargs),
        example_ids=examples,
        error=error,
        advice=str((config.meta or {}).get("advice", "")),
    )


# Expectations about the set of columns itself: a table checked by one of these is read whole.
_WHOLE_TABLE_CHECKS = (
    "expect_column_to_exist",
    "expect_table_columns_to_match_set",
    "expect_table_columns_to_match_ordered_list",
    "expect_table_column_count_to_equal",
    "expect_table_column_count_to_be_between",
)


def checked_columns(suite: object, example_id: str) -> list[str] | None:
    """The columns a suite's expectations name, and the example id; None when it needs every column."""
    columns = [example_id]
    for expectation in suite.expectations:
        config = expectation.configuration
        if config.type in _WHOLE_TABLE_CHECKS:
            return None
        kwargs = config.kwargs
        columns += [kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")]
        columns += list(kwargs.get("column_list") or [])
    return list(dict.fromkeys(c for c in columns if c))


def read_frames(db_path: Path, config: dict, as_of: date, columns: dict[str, list[str] | None] | None = None) -> dict:
    """Each checked table of the checks config as a DataFrame, read with a read-only connection.

    Only the ``columns`` its checks use are read (at a million invoices reading every column made the
    gate 1.2x slower; BENCHMARKS.md). The queries may also read ``source_schema``: the raw streams'
    fields against the config's ``source_schema`` section (see ar_radar.source_schema).
    """
    columns = columns or {}
    tables = checked_tables(config)
    with duckdb.connect(str(db_path), read_only=True) as con:
        con.register("source_schema", source_schema.compare(con, config.get("source_schema") or {}))
        frames = {}
        for name, table in tables.items():
            query = table.query.replace("{as_of_date}", as_of.isoformat())
            if columns.get(name):
                query = f"select {', '.join(_quoted(c) for c in columns[name])} from ({query})"
            frames[name] = con.sql(query).df()
        return frames


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _data_docs_pages(context: object, results: dict[str, object]) -> dict[str, str]:
    """Render this run's validation results into the Data Docs site; table -> the page's file path.

    Data Docs are a courtesy for the reader: if rendering fails the gate's verdict still stands.
    """
    if not results:
        return {}
    try:
        context.build_data_docs(site_names=[DATA_DOCS_SITE], resource_identifiers=list(results.values()))
        pages = {}
        for table, identifier in results.items():
            [site] = context.get_docs_sites_urls(resource_identifier=identifier, site_name=DATA_DOCS_SITE)
            pages[table] = unquote(urlparse(site["site_url"]).path)
        return pages
    except Exception:  # noqa: BLE001 - any GX rendering failure; logged with its traceback
        log.warning("could not build the Data Docs pages for this run", exc_info=True)
        return {}


def validate(db_path: Path, gx_root: Path, run_id: str, as_of: date) -> HealthReport:
    """Run every table's committed checkpoint against its DataFrame, as one GX run named after run_id."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="file", context_root_dir=str(gx_root))
    gx_run = RunIdentifier(run_name=run_id, run_time=datetime.now(UTC))
    checks: list[CheckResult] = []
    result_ids = {}
    config = load_config(gx_root)
    tables = checked_tables(config)
    columns = {name: checked_columns(context.suites.get(name), table.example_id) for name, table in tables.items()}
    for name, frame in read_frames(db_path, config, as_of, columns).items():
        id_column = tables[name].example_id
        outcome = context.checkpoints.get(name).run(batch_parameters={"dataframe": frame}, run_id=gx_run)
        [(result_ids[name], result)] = outcome.run_results.items()
        ids = frame[id_column].astype(str).tolist() if id_column in frame else []
        checks.extend(_to_check(name, r, ids) for r in result.results)
    # Data Docs pages are rendered only for tables with a failed check (what the alert attaches): on a clean
    # day that saves most of the gate's time. Every result is stored, so any page can be rendered later.
    failed_tables = dict.fromkeys(c.table for c in checks if not c.success)
    report = HealthReport(
        run_id=run_id,
        as_of_date=as_of.isoformat(),
        checked_at=gx_run.run_time.isoformat(),
        checks=checks,
        data_docs=_data_docs_pages(context, {t: result_ids[t] for t in failed_tables}),
    )
    log.info(
        "data health: %d checks, %d critical failures, %d warnings",
        len(checks),
        len(report.critical_failures),
        len(report.warnings),
    )
    return report


def store_report(db_path: Path, report: HealthReport) -> None:
    """Keep each run's results (re-running a run replaces its rows, nothing else)."""
    with duckdb.connect(str(db_path)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS ops")
        con.execute("""CREATE TABLE IF NOT EXISTS ops.data_health_runs (
            run_id VARCHAR PRIMARY KEY, as_of_date DATE, checked_at TIMESTAMPTZ, passed BOOLEAN,
            critical_failures INTEGER, warnings INTEGER)""")
        con.execute("""CREATE TABLE IF NOT EXISTS ops.data_health_checks (
            run_id VARCHAR, table_name VARCHAR, check_name VARCHAR, column_name VARCHAR, severity VARCHAR,
            success BOOLEAN, element_count BIGINT, unexpected_count BIGINT, unexpected_percent DOUBLE,
            threshold VARCHAR, example_ids JSON, error VARCHAR)""")
        # Columns added since the first release: an existing history keeps its rows.
        con.execute("ALTER TABLE ops.data_health_checks ADD COLUMN IF NOT EXISTS advice VARCHAR")
        con.execute("ALTER TABLE ops.data_health_checks ADD COLUMN IF NOT EXISTS passed_last_at TIMESTAMPTZ")
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM ops.data_health_checks WHERE run_id = ?", [report.run_id])
        con.execute("DELETE FROM ops.data_health_runs WHERE run_id = ?", [report.run_id])
        con.execute(
            "INSERT INTO ops.data_health_runs VALUES (?, ?, ?, ?, ?, ?)",
            [
                report.run_id,
                report.as_of_date,
                report.checked_at,
                report.passed,
                len(report.critical_failures),
                len(report.warnings),
            ],
        )
        con.executemany(
            """INSERT INTO ops.data_health_checks (run_id, table_name, check_name, column_name, severity, success,
                   element_count, unexpected_count, unexpected_percent, threshold, example_ids, error, advice,
                   passed_last_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                [
                    report.run_id,
                    c.table,
                    c.check,
                    c.column,
                    c.severity,
                    c.success,
                    c.element_count if isinstance(c.element_count, int) else None,
                    c.unexpected_count,
                    c.unexpected_percent,
                    c.threshold,
                    json.dumps(c.example_ids),
                    c.error,
                    c.advice,
                    c.passed_last_at,
                ]
                for c in report.checks
            ],
        )
        con.execute("COMMIT")


def last_passing_run(db_path: Path, before_run: str) -> str | None:
    """When the gate last passed (for 'since when' in the alert)."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        if not _has_history(con):
            return None
        row = con.execute(
            "SELECT max(checked_at) FROM ops.data_health_runs WHERE passed AND run_id <> ?", [before_run]
        ).fetchone()
    return row[0].isoformat() if row and row[0] else None


def _has_history(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'ops' AND table_name = 'data_health_checks'"
        ).fetchone()[0]
    )


def add_history(db_path: Path, report: HealthReport) -> HealthReport:
    """Fill in, for each failed check, when that same check last passed in an earlier run."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        if not _has_history(con):
            return report
        for check in report.checks:
            if check.success:
                continue
            row = con.execute(
                """SELECT max(r.checked_at) FROM ops.data_health_checks c JOIN ops.data_health_runs r USING (run_id)
                   WHERE c.success AND c.run_id <> ? AND c.table_name = ? AND c.check_name = ?
                     AND c.column_name IS NOT DISTINCT FROM ? AND c.severity = ? AND c.threshold = ?""",
                [report.run_id, check.table, check.check, check.column, check.severity, check.threshold],
            ).fetchone()
            check.passed_last_at = row[0].isoformat() if row and row[0] else None
    return report


class GateNotPassed(RuntimeError):
    """Scoring was asked to run on data the gate has not passed (in this run)."""


def require_passed(db_path: Path, run_id: str) -> HealthReport:
    """The run's stored report, if the gate passed it; else GateNotPassed saying why.

    Scoring calls this itself rather than trusting the task order alone: a task cleared or run by
    hand cannot score data the gate stopped or never saw.
    """
    report = load_report(db_path, run_id)
    if report is None:
        raise GateNotPassed(f"the data-health gate has no result for run {run_id}; nothing is scored")
    if not report.passed:
        raise GateNotPassed(
            f"the data-health gate failed for run {run_id} ({len(report.critical_failures)} critical "
            "check(s)); nothing is scored and the owners were alerted"
        )
    return report


def load_report(db_path: Path, run_id: str) -> HealthReport | None:
    """A stored run's report (ops.data_health_runs / _checks), or None."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        if not _has_history(con):
            return None
        run = con.execute(
            "SELECT as_of_date, checked_at FROM ops.data_health_runs WHERE run_id = ?", [run_id]
        ).fetchone()
        if run is None:
            return None
        rows = con.execute(
            """SELECT table_name, check_name, column_name, severity, success, element_count, unexpected_count,
                      unexpected_percent, threshold, example_ids, error, advice, passed_last_at
               FROM ops.data_health_checks WHERE run_id = ? ORDER BY rowid""",
            [run_id],
        ).fetchall()
    checks = [
        CheckResult(
            *row[:9],
            example_ids=json.loads(row[9] or "[]"),
            error=row[10],
            advice=row[11] or "",
            passed_last_at=row[12].isoformat() if row[12] else None,
        )
        for row in rows
    ]
    return HealthReport(run_id, run[0].isoformat(), run[1].isoformat(), checks)


def health_summary(db_path: Path, start: date, end: date) -> dict:
    """How healthy the data was between two dates (inclusive): for the weekly report and trends.

    Per day the newest run counts (a re-run replaces a failed morning). Returns the days checked and
    passed, and each check that failed at least once with how many days and when last.
    """
    empty = {"start": start.isoformat(), "end": end.isoformat(), "days_checked": 0, "days_passed": 0, "failing": []}
    with duckdb.connect(str(db_path), read_only=True) as con:
        if not _has_history(con):
            return empty
        days = con.execute(
            """SELECT as_of_date, run_id, passed FROM ops.data_health_runs
               WHERE as_of_date BETWEEN ? AND ? QUALIFY row_number() OVER (
                   PARTITION BY as_of_date ORDER BY checked_at DESC) = 1 ORDER BY as_of_date""",
            [start, end],
        ).fetchall()
        failing = con.execute(
            """SELECT c.table_name, c.column_name, c.check_name, c.severity, count(*) AS days_failed,
                      max(r.as_of_date) AS last_failed, arg_max(c.unexpected_count, r.as_of_date) AS last_unexpected
               FROM ops.data_health_checks c JOIN ops.data_health_runs r USING (run_id)
               WHERE NOT c.success AND c.run_id IN (SELECT unnest(?))
               GROUP BY ALL ORDER BY c.severity, days_failed DESC, c.table_name""",
            [[d[1] for d in days]],
        ).fetchall()
    return {
        **empty,
        "days_checked": len(days),
        "days_passed": sum(1 for d in days if d[2]),
        "daily": [{"date": d[0].isoformat(), "passed": d[2]} for d in days],
        "failing": [
            {
                "table": f[0],
                "column": f[1],
                "check": f[2],
                "severity": f[3],
                "days_failed": f[4],
                "last_failed": f[5].isoformat(),
                "last_unexpected_count": f[6],
            }
            for f in failing
        ],
    }
