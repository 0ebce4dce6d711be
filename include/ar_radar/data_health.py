"""The data-health gate: validate warehouse tables with Great Expectations before scoring.

GX cannot validate DuckDB through SQL (see ARCHITECTURE.md), so each checked table is read
read-only into a DataFrame and validated by the committed validation definition of the same
name. Results are stored in ``ops.data_health_runs`` / ``ops.data_health_checks``.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from ar_radar.data_health_suites import CheckedTable, checked_tables

log = logging.getLogger(__name__)


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
        return f"{where}: {name}: {observed} (allowed: {self.threshold})"


@dataclass
class HealthReport:
    run_id: str
    as_of_date: str
    checked_at: str
    checks: list[CheckResult]

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.severity == "critical"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.severity != "critical"]

    @property
    def passed(self) -> bool:
        return not self.critical_failures

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "as_of_date": self.as_of_date,
            "checked_at": self.checked_at,
            "passed": self.passed,
            "checks": [asdict(c) for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: dict) -> HealthReport:
        return cls(
            run_id=data["run_id"],
            as_of_date=data["as_of_date"],
            checked_at=data["checked_at"],
            checks=[CheckResult(**c) for c in data["checks"]],
        )


def _threshold(kwargs: dict) -> str:
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
        threshold=_threshold(kwargs),
        example_ids=examples,
        error=error,
    )


def read_frames(db_path: Path, tables: dict[str, CheckedTable], as_of: date) -> dict:
    """Each checked table (expectations/checks.yml) as a DataFrame, read with a read-only connection."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        return {
            name: con.sql(table.query.replace("{as_of_date}", as_of.isoformat())).df() for name, table in tables.items()
        }


def validate(db_path: Path, gx_root: Path, run_id: str, as_of: date) -> HealthReport:
    """Run every committed validation definition against its table."""
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="file", context_root_dir=str(gx_root))
    checks: list[CheckResult] = []
    tables = checked_tables(gx_root)
    for name, frame in read_frames(db_path, tables, as_of).items():
        id_column = tables[name].example_id
        definition = context.validation_definitions.get(name)
        outcome = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
        ids = frame[id_column].astype(str).tolist() if id_column in frame else []
        checks.extend(_to_check(name, r, ids) for r in outcome.results)
    report = HealthReport(
        run_id=run_id, as_of_date=as_of.isoformat(), checked_at=datetime.now(UTC).isoformat(), checks=checks
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
            "INSERT INTO ops.data_health_checks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ]
                for c in report.checks
            ],
        )
        con.execute("COMMIT")


def last_passing_run(db_path: Path, before_run: str) -> str | None:
    """When the gate last passed (for 'since when' in the alert)."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        row = con.execute(
            """SELECT max(checked_at) FROM ops.data_health_runs
                             WHERE passed AND run_id <> ?""",
            [before_run],
        ).fetchone()
    return row[0].isoformat() if row and row[0] else None
