"""Xero's /Date( format, both ways: what the sandbox and a history CSV write is what the extractor reads, and the
xero-python SDK reads the same instant."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ar_radar.extract.xero_dates import parse_xero_timestamp, xero_date, xero_date_string
from xero_python.api_client.deserializer import deserialize


def test_a_day_is_its_midnight_utc_in_milliseconds() -> None:
    # 2026-11-20T00:00:00Z is 1,795,132,800 seconds after the epoch (date -d 2026-11-20T00:00:00Z +%s)
    assert xero_date(date(2026, 11, 20)) == "/Date(1795132800000+0000)/"
    assert xero_date_string(date(2026, 11, 20)) == "2026-11-20T00:00:00"
    assert xero_date_string(datetime(2026, 11, 20, 9, 30, tzinfo=UTC)) == "2026-11-20T09:30:00"


def test_what_is_written_is_read_back_by_the_extractor_and_the_sdk() -> None:
    moment = datetime(2026, 11, 20, 9, 30, 15, tzinfo=UTC)
    written = xero_date(moment)
    assert parse_xero_timestamp(written) == moment
    assert deserialize("datetime[ms-format]", written, None) == moment  # the instant the SDK reads


def test_an_offset_is_informational_and_anything_else_is_no_instant() -> None:
    assert parse_xero_timestamp("/Date(1795132800000+1300)/") == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_xero_timestamp("2026-11-20") is None
    assert parse_xero_timestamp("x/Date(1795132800000+0000)/") is None
    assert parse_xero_timestamp(None) is None
