"""Raw layer in DuckDB: append-only tables holding every record version's full JSON.

``raw.<source>_<entity>`` gains a row only when a record's content changed (same tenant,
id and content hash are skipped), so loading the same landing files twice changes nothing.
``raw.<source>_<entity>_current`` is the latest version of each record.

Each version carries ``record_key``, a 64-bit key of its (tenant_id, record_id): an incremental warehouse build finds
the versions of the day's records among years of them by this integer, not their strings (at 3M invoices 0.25 s ->
0.04 s a scan of the payments). Being a function of the ids, a key selects every version of each record it matches,
so two records sharing one cost time, never a wrong row (dbt macro versions_of_records_loaded_after). md5, not
DuckDB's ``hash()``: the key must stay the same across DuckDB versions, since versions loaded years apart are
compared by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from ar_radar import database

RAW_TABLES = {
    "xero": ("organisations", "invoices", "credit_notes", "payments", "overpayments", "prepayments", "contacts"),
    "hubspot": ("companies", "contacts", "deals", "tickets", "notes"),
}

_COLUMNS = """
    source VARCHAR NOT NULL, entity VARCHAR NOT NULL, tenant_id VARCHAR NOT NULL,
    record_id VARCHAR, updated_at VARCHAR, record_hash VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
    extracted_at TIMESTAMPTZ NOT NULL, payload JSON NOT NULL, loaded_at TIMESTAMPTZ NOT NULL,
    record_key UBIGINT NOT NULL
"""
_JSON_COLUMNS = (
    "{source: 'VARCHAR', entity: 'VARCHAR', tenant_id: 'VARCHAR', record_id: 'VARCHAR', "
    "updated_at: 'VARCHAR', record_hash: 'VARCHAR', run_id: 'VARCHAR', extracted_at: 'TIMESTAMPTZ', "
    "payload: 'JSON'}"
)


# Fields a record must carry to be usable downstream; how many miss each is counted per landing
# file in raw.missing_fields (the data-health gate reads it). JSON paths into the payload.
REQUIRED_FIELDS = {
    "raw.xero_invoices": (
        "$.InvoiceID",
        "$.Contact.ContactID",
        "$.Date",
        "$.DueDate",
        "$.Total",
        "$.AmountDue",
        "$.Status",
        "$.CurrencyCode",
    ),
    "raw.xero_credit_notes": ("$.CreditNoteID", "$.Contact.ContactID", "$.Date", "$.Total", "$.Status"),
    "raw.xero_payments": ("$.PaymentID", "$.Amount", "$.Date", "$.Invoice.InvoiceID"),
    "raw.xero_overpayments": ("$.OverpaymentID", "$.Contact.ContactID", "$.Total"),
    "raw.xero_prepayments": ("$.PrepaymentID", "$.Contact.ContactID", "$.Total"),
    "raw.xero_contacts": ("$.ContactID", "$.Name"),
    "raw.xero_organisations": ("$.OrganisationID", "$.BaseCurrency"),
    "raw.hubspot_companies": ("$.id", "$.properties.name"),
    "raw.hubspot_contacts": ("$.id",),
    "raw.hubspot_deals": ("$.id",),
    "raw.hubspot_tickets": ("$.id",),
    "raw.hubspot_notes": ("$.id",),
}


class RawLoadError(RuntimeError):
    """A landing file could not be loaded; nothing from it was written."""


@dataclass(frozen=True)
class LoadResult:
    table: str
    file: str
    rows_in_file: int
    inserted: int
    missing_id: int


def raw_table(source: str, entity: str) -> str:
    return f"raw.{source}_{entity}"


def record_key_sql(tenant_id: str = "tenant_id", record_id: str = "record_id") -> str:
    """SQL for a version's ``record_key`` from SQL expressions of its tenant and record ids (the only definition:
    the warehouse compares stored keys, it never computes one). chr(0) separates the two ids; the versions without a
    record_id (counted as missing_id) share their tenant's one key."""
    return f"md5_number_upper({tenant_id} || chr(0) || coalesce({record_id}, chr(0)))"


def add_missing_record_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Give each existing raw table written before record_key existed its keys (the load does it, and the warehouse
    build in case none ran since an upgrade); no other column changes. Resumable: DuckDB cannot make a column NOT
    NULL in the transaction that filled it, so an interrupted run leaves a nullable column the next one fills."""
    for table, nullable in con.execute(
        "SELECT 'raw.' || t.table_name, c.is_nullable FROM duckdb_tables() AS t LEFT JOIN duckdb_columns() AS c "
        "ON c.table_oid = t.table_oid AND c.column_name = 'record_key' "
        "WHERE t.schema_name = 'raw' AND t.table_name IN (SELECT unnest(?)) AND coalesce(c.is_nullable, true)",
        [[f"{source}_{entity}" for source, entities in RAW_TABLES.items() for entity in entities]],
    ).fetchall():
        if nullable is None:
            con.execute(f"ALTER TABLE {table} ADD COLUMN record_key UBIGINT")
        con.execute(f"UPDATE {table} SET record_key = {record_key_sql()} WHERE record_key IS NULL")
        con.execute(f"ALTER TABLE {table} ALTER COLUMN record_key SET NOT NULL")


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every raw table, its current-state view and the load log, if missing."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for source, entities in RAW_TABLES.items():
        for entity in entities:
            table = raw_table(source, entity)
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({_COLUMNS})")
            # Newest: the order of dbt's macro newest_version_order (staging picks the same version).
            con.execute(f"""
                CREATE OR REPLACE VIEW {table}_current AS
                SELECT * FROM {table}
                QUALIFY row_number() OVER (
                    PARTITION BY tenant_id, record_id ORDER BY extracted_at DESC, loaded_at DESC, rowid DESC) = 1
            """)
    add_missing_record_keys(con)
    con.execute("""
        CREATE TABLE IF NOT EXISTS raw.missing_fields (
            run_id VARCHAR, table_name VARCHAR, tenant_id VARCHAR, file VARCHAR, field VARCHAR,
            records BIGINT, missing BIGINT)
    """)
    con.execute("""
        CREATE TABLE IF NOT EXISTS raw.load_log (
            run_id VARCHAR, source VARCHAR, entity VARCHAR, tenant_id VARCHAR, file VARCHAR,
            rows_in_file BIGINT, inserted BIGINT, missing_id BIGINT, loaded_at TIMESTAMPTZ)
    """)


def load_landing(db_path: str | Path, landing_root: str | Path) -> list[LoadResult]:
    """Load every landing file under ``landing_root`` that is not in ``raw.load_log`` yet.

    Files are ``<run>/<source>/<entity>/<tenant>/part-<n>.jsonl``. Loading every unloaded file,
    not just this run's, means pages landed by a run that died before its load are not lost.
    """
    landing_root = Path(landing_root)
    files = sorted(landing_root.glob("*/*/*/*/*.jsonl"))
    results: list[LoadResult] = []
    with database.connect(db_path, read_only=False) as con:
        ensure_raw_schema(con)
        loaded = {row[0] for row in con.execute("SELECT file FROM raw.load_log").fetchall()}
        for path in files:
            key = path.relative_to(landing_root).as_posix()
            if key in loaded:
                continue
            source, entity = path.parents[2].name, path.parents[1].name
            if entity not in RAW_TABLES.get(source, ()):
                raise RawLoadError(
                    f"{path}: unknown stream {source}/{entity}; expected one of "
                    f"{RAW_TABLES}. Move the file out of the landing folder and re-run."
                )
            results.append(_load_file(con, raw_table(source, entity), path, key))
    return results


def _count_missing_fields(con: duckdb.DuckDBPyConnection, source: str, table: str, key: str) -> None:
    """One pass over the file for every required field. Empty strings count as missing: Xero sends ""
    where a value was never set."""
    fields = list(REQUIRED_FIELDS.get(table, ()))
    if fields:
        con.execute(
            f"""INSERT INTO raw.missing_fields
                SELECT any_value(n.run_id), ?, any_value(n.tenant_id), ?, f.field, count(*),
                       count(*) FILTER (WHERE coalesce(json_extract_string(n.payload, f.field), '') = '')
                FROM {source} n, (SELECT unnest(?::VARCHAR[]) AS field) f
                GROUP BY f.field""",
            [table, key, fields],
        )


def _load_file(con: duckdb.DuckDBPyConnection, table: str, path: Path, key: str) -> LoadResult:
    source = f"read_json('{path.as_posix()}', format='newline_delimited', columns={_JSON_COLUMNS})"
    con.execute("BEGIN TRANSACTION")
    try:
        rows, missing, run_id, src, entity, tenant = con.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE record_id IS NULL), any_value(run_id), any_value(source),
                       any_value(entity), any_value(tenant_id)
                FROM {source}"""
        ).fetchone()
        (inserted,) = con.execute(f"""
            INSERT INTO {table}
            SELECT n.*, now(), {record_key_sql("n.tenant_id", "n.record_id")} FROM {source} n
            WHERE NOT EXISTS (
                SELECT 1 FROM {table} r
                WHERE r.tenant_id = n.tenant_id AND r.record_hash = n.record_hash
                  AND r.record_id IS NOT DISTINCT FROM n.record_id)
            QUALIFY row_number() OVER (PARTITION BY n.tenant_id, n.record_id, n.record_hash) = 1
        """).fetchone()
        con.execute(
            "INSERT INTO raw.load_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
            [run_id, src, entity, tenant, key, rows, inserted, missing],
        )
        _count_missing_fields(con, source, table, key)
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise RawLoadError(
            f"Could not load landing file {path} into {table}: {exc}. The file is kept; "
            "fix or remove it and re-run the load task."
        ) from exc
    return LoadResult(table, key, rows, inserted, missing)
