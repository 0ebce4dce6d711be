"""CRM signals: the tone method, its one use in the warehouse (int_crm_texts), and the recent-window features
of marts.invoice_features_history checked against the raw HubSpot texts the slow way."""

import duckdb
import pandas as pd
import pytest
from ar_radar.scoring import crm_signals
from ar_radar.scoring.crm_signals import tone
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


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
    assert tight <= -0.05 and chased <= -0.05  # negative by VADER's own convention
    assert happy > 0.5 and empty == 0.0
    plain = SentimentIntensityAnalyzer()  # why the collections lexicon: everyday VADER reads both as warm
    assert plain.polarity_scores(texts[0])["compound"] > 0 and plain.polarity_scores(texts[1])["compound"] > 0


def test_every_note_and_ticket_in_the_warehouse_has_its_tone_and_one_negative_flag(warehouse):
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        texts = con.sql(
            """select 'note' as kind, body_text as text from staging.stg_hubspot__notes
               union all select 'ticket', concat_ws('. ', subject, content) from staging.stg_hubspot__tickets"""
        ).df()
        marked = con.sql("select text_kind as kind, tone, is_negative from intermediate.int_crm_texts").df()
    assert len(marked) == len(texts) > 100
    # recomputed here with VADER and the collections lexicon, not through ar_radar's tone()
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(crm_signals.COLLECTIONS_LEXICON)
    expected = sorted(analyzer.polarity_scores(t)["compound"] if t else 0.0 for t in texts["text"].fillna(""))
    assert sorted(marked["tone"]) == pytest.approx(expected, abs=1e-9)
    assert (marked["is_negative"] == (marked["tone"] <= -0.05)).all()
    assert marked["is_negative"].any() and not marked["is_negative"].all()


def test_recent_crm_features_count_only_the_180_days_before_the_issue_day(warehouse):
    """For a sample of invoices, the mart's recent CRM features against the texts counted one by one."""
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        history = con.sql(
            """select tenant_id, contact_id, invoice_id, invoice_date, recent_crm_text_count, recent_crm_tone,
                      recent_negative_text_count, recent_dispute_text_count, open_ticket_count, dispute_ticket_count
               from marts.invoice_features_history using sample 300 rows (reservoir, 7)"""
        ).df()
        texts = con.sql(
            """select m.tenant_id, m.contact_id, x.text_kind, cast(x.logged_at as date) as logged_on,
                      cast(x.closed_at as date) as closed_on, x.tone, x.is_negative, x.mentions_dispute
               from intermediate.int_crm_texts x
               join intermediate.int_customer_matches m on m.hubspot_company_id = x.company_id"""
        ).df()
    for column in ("logged_on", "closed_on"):
        texts[column] = pd.to_datetime(texts[column])
    assert history["recent_crm_text_count"].sum() > 0 and history["open_ticket_count"].sum() > 0
    for row in history.itertuples():
        issued = pd.Timestamp(row.invoice_date)
        own = texts[(texts["tenant_id"] == row.tenant_id) & (texts["contact_id"] == row.contact_id)]
        before = own[own["logged_on"] < issued]
        recent = before[before["logged_on"] >= issued - pd.Timedelta(days=180)]
        tickets = before[before["text_kind"] == "ticket"]
        still_open = tickets[tickets["closed_on"].isna() | (tickets["closed_on"] >= issued)]
        assert row.recent_crm_text_count == len(recent), row.invoice_id
        assert row.recent_negative_text_count == recent["is_negative"].sum(), row.invoice_id
        assert row.recent_dispute_text_count == recent["mentions_dispute"].sum(), row.invoice_id
        assert row.dispute_ticket_count == tickets["mentions_dispute"].sum(), row.invoice_id
        assert row.open_ticket_count == len(still_open), row.invoice_id
        if len(recent):
            assert row.recent_crm_tone == pytest.approx(recent["tone"].mean(), abs=1e-4)
        else:
            assert pd.isna(row.recent_crm_tone)
