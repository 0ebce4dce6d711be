"""Wire-format helpers shared by the sandbox servers: Xero-shaped JSON (its dates: ``ar_radar.extract.xero_dates``)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ar_radar.extract.xero_dates import xero_date, xero_date_string


def to_xero_json(record: Any) -> Any:
    """Convert a generator record into Xero's JSON shape (dates, decimals, ``DateString``)."""
    if isinstance(record, dict):
        out: dict[str, Any] = {}
        for key, value in record.items():
            out[key] = to_xero_json(value)
            if key in ("Date", "DueDate") and isinstance(value, date):
                out[f"{key}String"] = xero_date_string(value)
        return out
    if isinstance(record, list):
        return [to_xero_json(v) for v in record]
    if isinstance(record, (datetime, date)):
        return xero_date(record)
    if isinstance(record, Decimal):
        return float(record)
    return record


def guid_sql(expr: str) -> str:
    """DuckDB SQL for a Xero id made from a name (``expr``, a string expression): a GUID in Xero's text form, the
    same for the same name. Synthetic records written straight into raw (the benches' tables, tests' new versions)
    carry ids of the shape the warehouse requires (macro xero_id)."""
    return f"cast(cast(md5({expr}) as uuid) as varchar)"


def dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))
