"""The gate's history: every run's results kept in ``ops.data_health_runs`` / ``ops.data_health_checks``,
whether a run passed (``require_passed``, asked by every step after the gate) and how healthy a period was."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

from ar_radar import database
from ar_radar.gate.report import CheckResult, GateNotPassed, HealthReport


def store_report(db_path: Path, report: HealthReport) -> None:
    """Keep each run's results (re-running a run replaces its rows, nothing else)."""
    with database.connect(db_path, read_only=False) as con:
        database.ensure(con, "ops.data_health_runs", "ops.data_health_checks")
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
    with database.connect(db_path, read_only=True) as con:
        if not _has_history(con):
            return None
        row = con.execute(
            "SELECT max(checked_at) FROM ops.data_health_runs WHERE passed AND run_id <> ?", [before_run]
        ).fetchone()
    return row[0].isoformat() if row and row[0] else None


def _has_history(con: duckdb.DuckDBPyConnection) -> bool:
    return database.has_table(con, "ops.data_health_checks")


def add_history(db_path: Path, report: HealthReport) -> HealthReport:
    """Fill in, for each failed check, when that same check last passed in an earlier run."""
    with database.connect(db_path, read_only=True) as con:
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


def require_passed(db_path: Path, run_id: str) -> HealthReport:
    """The run's stored report, if the gate passed it; else GateNotPassed saying why.

    Scoring calls this itself rather than trusting the task order alone: a task cleared or run by
    hand cannot score data the gate stopped or never saw.
    """
    if not Path(db_path).exists():  # a shard that owns no organisation yet: nothing was loaded or checked
        raise GateNotPassed(f"there is no warehouse at {db_path} for run {run_id}; nothing is scored")
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
    with database.connect(db_path, read_only=True) as con:
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
    with database.connect(db_path, read_only=True) as con:
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
