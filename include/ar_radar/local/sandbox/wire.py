"""Wire-format helpers shared by the sandbox servers: Xero's ``/Date(...)/`` and JSON encoding."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


def xero_date(value: date | datetime) -> str:
    """Format a date or UTC datetime as Xero's ``/Date(<ms>+0000)/``."""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC)
    else:
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def xero_date_string(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{value.isoformat()}T00:00:00"


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


def dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))
