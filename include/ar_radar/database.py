"""The one way to open the DuckDB warehouse, and the one owner of every table Python writes.

dbt owns the tables it builds (``reference``, ``staging``, ``intermediate``, ``marts``, ``snapshots``);
``ar_radar.raw.store`` owns ``raw.*`` (one table per stream, made from its list of streams). Every other
table a stage writes is declared here, once, with the columns added since its first release, so a
warehouse of an older version is brought up to date in place and keeps its rows.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from ar_radar.threads import task_threads

if TYPE_CHECKING:
    import pandas as pd

TABLES: dict[str, str] = {
    "ops.email_log": """(
        kind VARCHAR, dedupe_key VARCHAR, subject VARCHAR, recipients VARCHAR, sent_at TIMESTAMPTZ,
        PRIMARY KEY (kind, dedupe_key))""",
    # Each warehouse build: whether it rebuilt in full, the dbt project's hash (a change forces a full one), how far
    # it read raw (the next build's changed_since) and whether it finished (if not, the next one is full).
    "ops.warehouse_builds": """(
        built_at TIMESTAMPTZ, as_of_date DATE, project_hash VARCHAR, full_refresh BOOLEAN)""",
    # Each node of each warehouse build (ar_radar.warehouse.build): what ran, how it ended and how long it took. The
    # daily build writes no dbt JSON artefacts (manifest.json and run_results.json cost ~0.7 s a build); this is
    # the record of where a build's time went, kept with the warehouse.
    "ops.warehouse_build_nodes": """(
        built_at TIMESTAMPTZ, unique_id VARCHAR, resource_type VARCHAR, status VARCHAR, seconds DOUBLE,
        message VARCHAR)""",
    "ops.data_health_runs": """(
        run_id VARCHAR PRIMARY KEY, as_of_date DATE, checked_at TIMESTAMPTZ, passed BOOLEAN,
        critical_failures INTEGER, warnings INTEGER)""",
    "ops.data_health_checks": """(
        run_id VARCHAR, table_name VARCHAR, check_name VARCHAR, column_name VARCHAR, severity VARCHAR,
        success BOOLEAN, element_count BIGINT, unexpected_count BIGINT, unexpected_percent DOUBLE,
        threshold VARCHAR, example_ids JSON, error VARCHAR)""",
    # The gate's memory of keyed tables (ar_radar.gate.incremental): how far the last run read each one, and
    # every row failing a row-level check, so the next run validates only the rows that changed.
    "ops.data_health_row_state": """(
        table_name VARCHAR PRIMARY KEY, suite_hash VARCHAR, checked_through TIMESTAMPTZ, run_id VARCHAR,
        checked_at TIMESTAMPTZ)""",
    "ops.data_health_row_failures": """(
        table_name VARCHAR, check_key VARCHAR, row_key VARCHAR, example_id VARCHAR)""",
    "ops.data_health_raw_counts": """(
        stream VARCHAR PRIMARY KEY, raw_table VARCHAR, records BIGINT, versions BIGINT, counted_through TIMESTAMPTZ,
        counted_at TIMESTAMPTZ)""",
    "models.risk_models": """(
        version VARCHAR PRIMARY KEY, trained_at TIMESTAMPTZ, as_of_date DATE, invoices BIGINT, metrics JSON,
        path VARCHAR, tenant_id VARCHAR)""",
    "scoring.invoice_risk_scores": """(
        as_of_date DATE, tenant_id VARCHAR, invoice_id VARCHAR, invoice_number VARCHAR,
        contact_id VARCHAR, contact_name VARCHAR, hubspot_company_id VARCHAR, due_date DATE,
        days_overdue INTEGER, aging_bucket VARCHAR, collections_bucket VARCHAR, currency_code VARCHAR,
        amount_due DECIMAL(18, 2), amount_due_base DECIMAL(18, 2), risk_probability DOUBLE, risk_band VARCHAR,
        top_factors JSON, predicted_payment_date DATE, predicted_payment_earliest DATE,
        predicted_payment_latest DATE, open_dispute_count BIGINT, dispute_ticket_id VARCHAR,
        model_version VARCHAR, scored_at TIMESTAMPTZ,
        PRIMARY KEY (as_of_date, tenant_id, invoice_id))""",
    "outreach.reminder_drafts": """(
        as_of_date DATE, run_id VARCHAR, tenant_id VARCHAR, contact_id VARCHAR, customer_name VARCHAR,
        recipients JSON, invoices JSON, tier VARCHAR, subject VARCHAR, text_body VARCHAR, html_body VARCHAR,
        generator VARCHAR, guardrail_results JSON, fallback_reason VARCHAR, created_at TIMESTAMPTZ,
        PRIMARY KEY (as_of_date, tenant_id, contact_id))""",
    # Every customer reminder considered for sending, sent or skipped, with why (the audit trail).
    "outreach.reminder_log": """(
        as_of_date DATE, run_id VARCHAR, send_key VARCHAR, draft_number INTEGER, tenant_id VARCHAR,
        contact_id VARCHAR, customer_name VARCHAR, recipients JSON, invoices JSON, subject VARCHAR,
        text_body VARCHAR, status VARCHAR, reason VARCHAR, approval VARCHAR, approved_by VARCHAR,
        approved_at TIMESTAMPTZ, xero_check JSON, hubspot_note_id VARCHAR, logged_at TIMESTAMPTZ)""",
    "outreach.opt_outs": """(
        tenant_id VARCHAR, contact_id VARCHAR, note VARCHAR, opted_out_at TIMESTAMPTZ,
        PRIMARY KEY (tenant_id, contact_id))""",
}
# Columns added after a table's first release: (table, column, type).
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("ops.data_health_checks", "advice", "VARCHAR"),
    ("ops.warehouse_builds", "raw_loaded_through", "TIMESTAMPTZ"),
    ("ops.warehouse_builds", "finished", "BOOLEAN"),
    ("ops.data_health_checks", "passed_last_at", "TIMESTAMPTZ"),
    ("scoring.invoice_risk_scores", "collections_bucket", "VARCHAR"),
    ("scoring.invoice_risk_scores", "invoice_date", "DATE"),
    ("scoring.invoice_risk_scores", "model_note", "VARCHAR"),
    ("scoring.invoice_risk_scores", "paid_within_7d", "DOUBLE"),
    ("scoring.invoice_risk_scores", "paid_within_30d", "DOUBLE"),
    ("scoring.invoice_risk_scores", "base_currency", "VARCHAR"),
    ("scoring.invoice_risk_scores", "reminder_tier", "VARCHAR"),
    ("outreach.reminder_drafts", "tone", "VARCHAR"),
    ("outreach.reminder_drafts", "language", "VARCHAR"),
    ("outreach.reminder_drafts", "action", "VARCHAR"),
    ("outreach.reminder_drafts", "relationship_tier", "VARCHAR"),
    ("outreach.reminder_drafts", "flags", "JSON"),
    ("outreach.reminder_drafts", "summary", "JSON"),
    ("outreach.reminder_drafts", "auto_send", "VARCHAR"),
)


def memory_limit() -> str:
    """DuckDB's memory cap for every connection, dbt's included (``AR_RADAR_DUCKDB_MEMORY_LIMIT``, default 2.4GB).

    Beyond it DuckDB spills to disk, so a big warehouse slows down instead of taking a worker's memory. 2.4GB: a
    process peaks at the cap plus ~400 MiB (Python, dbt), so a full rebuild at a million invoices stays under 3 GB
    (2,690 MiB; 3,250 MiB at 3GB) and took no longer (BENCHMARKS.md, issue 17's sixth pass)."""
    return os.environ.get("AR_RADAR_DUCKDB_MEMORY_LIMIT", "").strip() or "2.4GB"


def connect(db_path: str | Path, *, read_only: bool, **settings: str) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse (or to ``":memory:"``) with DuckDB's threads (``ar_radar.threads``) and memory
    bounded; ``settings``: any other DuckDB settings (``temp_directory``).

    read_only is explicit: DuckDB allows one writing process per file, and a reader must say so to open the
    file while no writer holds it."""
    config = {"threads": task_threads(), "memory_limit": memory_limit(), **settings}
    return duckdb.connect(str(db_path), read_only=read_only, config=config)


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    """A query's rows as dicts keyed by column name, Xero's ids as text (see ``frame``)."""
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [
        {name: str(value) if isinstance(value, uuid.UUID) else value for name, value in zip(names, values, strict=True)}
        for values in cursor.fetchall()
    ]


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    """A query's result as a DataFrame, Xero's ids as text.

    The warehouse keeps Xero's GUIDs as DuckDB UUIDs (macro xero_id), which DuckDB hands to Python as uuid.UUID;
    Python works with the ids as Xero sends them, text, so the UUID columns are cast in the query, not per value."""
    relation = con.sql(sql, params=params)
    return relation.project(_text_id_columns(relation)).df()


def with_text_ids(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """``sql`` with its UUID columns cast to text, for what leaves the warehouse as a file (see ``frame``)."""
    return f"select {_text_id_columns(con.sql(sql))} from ({sql})"


def _text_id_columns(relation: duckdb.DuckDBPyRelation) -> str:
    return ", ".join(
        f"cast({quoted(name)} as varchar) as {quoted(name)}" if str(kind) == "UUID" else quoted(name)
        for name, kind in zip(relation.columns, relation.types, strict=True)
    )


def quoted(name: str) -> str:
    """A column or table name as a SQL identifier (double quotes, any inside doubled)."""
    return '"' + name.replace('"', '""') + '"'


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    # fetchall, not fetchone: DuckDB 2 refuses the connection's next statement while a result is unfinished
    [(count,)] = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, name]
    ).fetchall()
    return bool(count)


def has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    schema, name = table.split(".")
    [(count,)] = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? AND column_name = ?",
        [schema, name, column],
    ).fetchall()
    return bool(count)


def ensure(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    """Create the named tables (of TABLES) if missing and add columns newer than them (a writer's first step)."""
    for table in tables:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} {TABLES[table]}")
        for owner, column, kind in ADDED_COLUMNS:
            if owner == table:
                con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
