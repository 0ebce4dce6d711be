"""CRM signals: the tone method, the 180-day point-in-time window, and the warehouse's own notes and tickets."""

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from ar_radar.scoring import crm_signals
from ar_radar.scoring.crm_signals import CRM_FEATURES, signals, text_events, tone
from ar_radar.scoring.features import warehouse_history
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

ISSUED = date(2026, 6, 1)


def test_tone_reads_collections_language():
    texts = pd.Series(
        [
            "Dana says cash flow is tight this month, promised payment next week.",
            "Payment promised on Friday did not arrive; chased the overdue invoice.",
            "Quarterly check-in went well, they are happy with the service and plan to expand.",
            None,
        ]
    )
    tight, chased, happy, empty = tone(texts)
    assert tight < crm_signals.NEGATIVE_AT and chased < crm_signals.NEGATIVE_AT
    assert happy > 0.5 and empty == 0.0
    plain = SentimentIntensityAnalyzer()  # why the collections lexicon: everyday VADER reads both as warm
    assert plain.polarity_scores(texts[0])["compound"] > 0 and plain.polarity_scores(texts[1])["compound"] > 0


def test_dispute_words_are_counted():
    texts = pd.DataFrame(
        {
            "customer_id": ["a"] * 3,
            "on": [ISSUED - timedelta(days=d) for d in (3, 2, 1)],
            "text": ["Customer says INV-7 was already paid", "Query on INV-8: quantity wrong", "Lunch booked"],
            "is_ticket": [True, True, False],
            "closed_on": [None, None, None],
        }
    )
    events = text_events(texts)
    assert events["disputes"].sum() == 2 and events["tickets_opened"].sum() == 2


def _texts(*rows: tuple) -> pd.DataFrame:
    """rows: (days before ISSUED, text, is_ticket, days before ISSUED it closed or None)."""
    return pd.DataFrame(
        {
            "customer_id": "a",
            "on": [ISSUED - timedelta(days=d) for d, *_ in rows],
            "text": [t for _, t, *_ in rows],
            "is_ticket": [k for _, _, k, _ in rows],
            "closed_on": [None if c is None else ISSUED - timedelta(days=c) for *_, c in rows],
        }
    )


def test_signals_only_see_the_180_days_before_the_issue_day():
    texts = _texts(
        (10, "Chased the overdue invoice, frustrated and unhappy.", False, None),
        (200, "Lovely call, great customer, happy.", False, None),  # before the window
        (0, "Threatened to leave, furious.", False, None),  # the issue day itself: not known at its start
        (30, "Invoice disputed: price wrong.", True, 5),  # opened and closed before issue: in window, not open
        (20, "Cannot log in.", True, -3),  # closed after the issue day: open when issued
        (400, "Old ticket never closed.", True, None),  # open, though opened before the window
    )
    deals = pd.DataFrame({"customer_id": "a", "on": [ISSUED - timedelta(days=d) for d in (100, 190, 0)], "deals": 1.0})
    events = pd.concat([text_events(texts), deals], ignore_index=True)
    invoices = pd.DataFrame({"customer_id": ["b", "a"], "invoice_date": [ISSUED, ISSUED]})
    got = signals(invoices, events)

    assert list(got.columns) == list(CRM_FEATURES)
    unknown, known = got.iloc[0], got.iloc[1]  # same order as the invoices
    assert np.isnan(unknown["crm_tone"]) and (unknown.drop("crm_tone") == 0).all()
    in_window = tone(
        pd.Series(
            ["Chased the overdue invoice, frustrated and unhappy.", "Invoice disputed: price wrong.", "Cannot log in."]
        )
    )
    assert known["crm_tone"] == pytest.approx(in_window.mean(), abs=1e-4)
    assert known["crm_negative_count"] == (in_window <= crm_signals.NEGATIVE_AT).sum() == 2
    assert known["crm_dispute_mentions"] == 1
    assert known["crm_open_tickets"] == 2
    assert known["crm_recent_deals"] == 1
    # a day later the issue-day note is known
    later = signals(pd.DataFrame({"customer_id": ["a"], "invoice_date": [ISSUED + timedelta(days=1)]}), events)
    assert later.iloc[0]["crm_negative_count"] == 3


def test_no_crm_activity_at_all_gives_empty_signals_not_an_error():
    invoices = pd.DataFrame({"customer_id": ["a", "b"], "invoice_date": [ISSUED, ISSUED]})
    none = text_events(_texts().astype({"is_ticket": bool}))
    got = signals(invoices, none)
    assert got["crm_tone"].isna().all() and (got.drop(columns="crm_tone") == 0).all().all()


def test_the_warehouse_history_carries_crm_signals_from_hubspot(warehouse):
    history, optional = warehouse_history(warehouse.db_path)
    assert set(CRM_FEATURES) <= set(optional) <= set(history.columns)
    crm = history[list(CRM_FEATURES)]
    assert crm["crm_tone"].dropna().between(-1, 1).all()
    assert crm["crm_tone"].notna().mean() > 0.2 and crm["crm_negative_count"].sum() > 0
    assert (crm.drop(columns="crm_tone") >= 0).all().all() and crm["crm_recent_deals"].sum() > 0
    # against the raw tickets: a customer's open tickets when each invoice was issued, counted the slow way
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        sample = history.sample(200, random_state=3)
        for row in sample.itertuples():
            tenant_id, contact_id = row.customer_id.split(":")
            expected = con.execute(
                """select count(*) from staging.stg_hubspot__tickets k
                   join intermediate.int_customer_matches m on m.hubspot_company_id = k.company_id
                   where m.tenant_id = ? and m.contact_id = ? and cast(k.created_at as date) < ?
                     and (k.closed_at is null or cast(k.closed_at as date) >= ?)""",
                [tenant_id, contact_id, row.invoice_date.date(), row.invoice_date.date()],
            ).fetchone()[0]
            assert row.crm_open_tickets == expected, (row.invoice_id, row.invoice_date)
