"""Schema drift in the raw streams: the fields AR Radar reads, with their JSON types, against what arrived.

Xero and HubSpot change their payloads without notice: a renamed field becomes NULL in staging and a
number sent as text fails a cast quietly. This compares the newest run's raw records of each stream
with ``source_schema`` in ``expectations/checks.yml`` and returns one row per field with a status the
gate's GX checks judge: ``ok``, ``missing`` (expected, absent from every record inspected),
``wrong_type`` (arrived with another JSON type) or ``new`` (a field nobody listed).
"""

from __future__ import annotations

import duckdb
import pandas as pd

# JSON types as DuckDB's json_each reports them, per type name used in the config.
JSON_TYPES = {
    "string": {"VARCHAR"},
    "number": {"BIGINT", "UBIGINT", "DOUBLE"},
    "boolean": {"BOOLEAN"},
    "object": {"OBJECT"},
    "array": {"ARRAY"},
}
COLUMNS = ["finding", "stream", "field", "expected_type", "observed_types", "records_with_field", "records", "status"]


class SourceSchemaConfigError(ValueError):
    """The source_schema section of checks.yml cannot be used."""


def _expected(spec: dict, stream: str) -> dict[str, tuple[str, bool]]:
    """Field -> (JSON type, may be absent)."""
    fields = {}
    for key, optional in (("fields", False), ("optional_fields", True)):
        for name, type_name in (spec.get(key) or {}).items():
            if type_name not in JSON_TYPES:
                raise SourceSchemaConfigError(
                    f"source_schema.streams.{stream}.{key}.{name}: the type must be one of "
                    f"{sorted(JSON_TYPES)}, not {type_name!r}"
                )
            fields[name] = (type_name, optional)
    return fields


def observe(con: duckdb.DuckDBPyConnection, stream: str, root: str, sample_rows: int) -> pd.DataFrame:
    """Field, JSON types seen and records carrying it, over (a sample of) the newest run's records."""
    table = f"raw.{stream}"
    path = "$" if not root else f"$.{root}"
    # The sample is drawn from the newest run's records. USING SAMPLE on the table itself would sample before the
    # WHERE: a reservoir of every version's payload (the whole history's), keeping the few that happen to be the
    # newest run's (22 of 9,900 payments at 3M invoices).
    return con.execute(
        f"""
        with newest as (
            select payload from (
                select payload from {table} where run_id = (select max_by(run_id, loaded_at) from {table})
            ) using sample reservoir({int(sample_rows)} rows) repeatable (7)
        )
        select j.key as field,
               list_sort(list_distinct(list(j.type) filter (where j.type <> 'NULL'))) as observed_types,
               count(*) as records_with_field, (select count(*) from newest) as records
        from newest, json_each(json_extract(payload, '{path}')) as j
        group by all"""
    ).df()


def _listed(value: object) -> bool:
    return isinstance(value, (list, tuple)) or hasattr(value, "__array__")


def _status(expected: tuple[str, bool] | None, observed_types: list[str], present: bool) -> str:
    if expected is None:
        return "new"
    type_name, optional = expected
    if not present:
        return "ok" if optional else "missing"
    return "ok" if set(observed_types) <= JSON_TYPES[type_name] else "wrong_type"


def compare(con: duckdb.DuckDBPyConnection, config: dict) -> pd.DataFrame:
    """One row per expected or observed field of every configured stream that has records."""
    rows = []
    sample_rows = int(config.get("sample_rows", 20000))
    raw_tables = {
        r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'raw'").fetchall()
    }
    for stream, spec in (config.get("streams") or {}).items():
        if stream not in raw_tables:
            raise SourceSchemaConfigError(
                f"source_schema.streams.{stream}: there is no raw table raw.{stream} (streams are named like "
                "xero_invoices or hubspot_tickets)"
            )
        expected = _expected(spec, stream)
        known = set(spec.get("known") or ())
        observed = observe(con, stream, spec.get("root", ""), sample_rows)
        if observed.empty:
            continue  # a stream with no records yet (no overpayments, say) has no schema to judge
        records = int(observed["records"].iloc[0])
        seen = {r.field: r for r in observed.itertuples()}
        for name in sorted(set(expected) | (set(seen) - known)):
            hit = seen.get(name)
            if hit is None and expected[name][1]:
                continue  # optional and absent: nothing to report
            # A field that is null in every record (a property the portal never filled) has no types: none seen.
            types = [str(t) for t in hit.observed_types] if hit is not None and _listed(hit.observed_types) else []
            status = _status(expected.get(name), types, hit is not None)
            want = expected[name][0] if name in expected else None
            detail = {
                "ok": "as expected",
                "missing": f"missing from all {records} records inspected",
                "wrong_type": f"expected {want}, arrived as {', '.join(types)}",
                "new": "a new field, not read by AR Radar",
            }[status]
            rows.append(
                {
                    "finding": f"{stream}.{name}: {detail}",
                    "stream": stream,
                    "field": name,
                    "expected_type": want,
                    "observed_types": ", ".join(types),
                    "records_with_field": int(hit.records_with_field) if hit is not None else 0,
                    "records": records,
                    "status": status,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)
