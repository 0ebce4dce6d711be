"""Xero's wire format for instants and dates: ``/Date(<ms since epoch>[+-HHMM])/`` and the ``DateString`` twin.

One definition for the code that reads Xero (the extractor) and the code that writes Xero-shaped records (the
sandbox servers, a history CSV loaded as Xero records, the benchmarks' synthetic days). The warehouse parses the
same format in SQL (dbt macro ``xero_timestamp``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

# Anchored at the start, as the xero-python SDK matches it; the offset after the milliseconds is informational.
_XERO_DATE = re.compile(r"/Date\((-?\d+)")


def parse_xero_timestamp(value: str | None) -> datetime | None:
    """``/Date(1539993600000+0000)/`` -> aware UTC datetime. The milliseconds are the instant."""
    match = _XERO_DATE.match(value or "")
    if not match:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match.group(1)))


def xero_date(value: date | datetime) -> str:
    """A date (midnight UTC) or an aware datetime as Xero's ``/Date(<ms>+0000)/``."""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC)
    else:
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def xero_date_string(value: date | datetime) -> str:
    """The same as Xero's ``DateString`` twin: ``2026-11-20T00:00:00``."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{value.isoformat()}T00:00:00"
