"""Promises to pay read from CRM notes: a date, a weekday, a relative phrase; pending, then broken."""

from datetime import date, datetime

import duckdb
import pytest
from ar_radar.actions.promises import find_promise, status

LOGGED = datetime(2026, 11, 18, 10, 30)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "promised"),
    [
        ("Sam promised to pay INV-00042 on 5 December.", date(2026, 12, 5)),
        ("Spoke to Sam, they will pay INV-00042 by Friday.", date(2026, 11, 20)),
        ("Spoke to Sam, they will pay INV-00042 by Wednesday.", date(2026, 11, 25)),  # the next one, not today
        ("Sam confirmed payment for INV-00042 next week.", date(2026, 11, 25)),
        ("Cash is tight, promised payment next week.", date(2026, 11, 25)),
        ("They will settle it on 2026-12-01.", date(2026, 12, 1)),
        ("Promised to pay by 12/12.", date(2026, 12, 12)),
        ("Will pay tomorrow.", date(2026, 11, 19)),
    ],
)
def test_a_promise_and_its_day_are_read_relative_to_the_note(text, promised):
    found = find_promise(text, LOGGED)
    assert found is not None and found.promised_for == promised


@pytest.mark.parametrize(
    "text",
    [
        "Payment promised on Friday did not arrive; escalate if nothing by month end.",
        "Call with Sam about next quarter's volumes. No issues raised.",
        "Sam says they will pay, no date given.",
        "",
        None,
    ],
)
def test_no_promise_without_a_promised_day_or_when_it_reports_a_miss(text):
    assert find_promise(text, LOGGED) is None


def test_a_promise_is_pending_until_its_day_plus_the_grace_then_broken():
    assert status(date(2026, 11, 20), date(2026, 11, 23)) == "pending"
    assert status(date(2026, 11, 20), date(2026, 11, 24)) == "broken"


def test_the_warehouse_keeps_every_note_that_promises_with_its_day(warehouse):
    """int_payment_promises against find_promise read note by note from staging: every note with a promise, its
    day and phrase, and no ticket (int_crm_texts reads promises in its pass over notes and tickets)."""
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        notes = con.execute("select note_id, noted_at, body_text from staging.stg_hubspot__notes").fetchall()
        kept = con.execute(
            "select note_id, promised_for, promise_phrase from intermediate.int_payment_promises"
        ).fetchall()
        tickets = con.execute(
            "select count(*) from intermediate.int_crm_texts where text_kind = 'ticket' and promised_for is not null"
        ).fetchone()[0]
    expected = []
    for note_id, noted_at, text in notes:
        found = find_promise(text, noted_at) if noted_at is not None else None
        if found is not None:
            expected.append((note_id, found.promised_for, found.phrase))
    assert len(notes) > 100 and len(expected) >= 5
    assert sorted(kept) == sorted(expected)
    assert tickets == 0
