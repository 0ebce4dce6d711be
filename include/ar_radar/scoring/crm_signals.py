"""CRM signals: what the customer's HubSpot record said in the months before each invoice was issued.

Per invoice, from the HubSpot company matched to its customer (``intermediate.int_customer_matches``), over
the RECENT_DAYS before the start of its issue day (nothing from the issue day on, like every other feature):

* ``crm_tone``: mean tone of the notes and tickets logged, -1 (hostile) to +1 (warm); missing when none;
* ``crm_negative_count``: how many of them read negative;
* ``crm_dispute_mentions``: how many use dispute words ("disputed", "wrong", "refuses", "already paid", ...);
* ``crm_open_tickets``: tickets open at the start of the issue day (opened before it, not closed before it);
* ``crm_recent_deals``: deals created.

Tone is VADER (``vaderSentiment``: a lexicon and rules, offline, no API key and no model download) with a
small collections lexicon on top: general-purpose VADER reads "promised payment next week" as warm and
does not know "overdue" or "chased". The model uses these columns only where the backtest shows they help
(``model_registry.train`` backtests with and without them and records both).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

RECENT_DAYS = 180
CRM_FEATURES = ("crm_tone", "crm_negative_count", "crm_dispute_mentions", "crm_open_tickets", "crm_recent_deals")
# VADER's own convention: a compound score at or below -0.05 is negative, at or above +0.05 positive.
NEGATIVE_AT, POSITIVE_AT = -0.05, 0.05
# Valence (VADER's -4..+4 scale) of words whose meaning in accounts receivable differs from everyday use.
COLLECTIONS_LEXICON = {
    "overdue": -2.0,
    "unpaid": -1.8,
    "late": -1.2,
    "chase": -1.2,
    "chased": -1.5,
    "chasing": -1.5,
    "tight": -1.5,
    "escalate": -1.5,
    "escalated": -1.5,
    "dispute": -2.0,
    "disputes": -2.0,
    "disputed": -2.0,
    "refuses": -2.0,
    "promised": 0.0,  # a promise to pay is a sign of trouble, not goodwill
    "promise": 0.0,
    "reminder": -0.5,
}
DISPUTE_WORDS = re.compile(
    r"\b(?:disput\w*|query|queried|wrong|incorrect|refus\w*|overcharg\w*|already paid|not received|damaged|"
    r"credit note)\b",
    re.IGNORECASE,
)


@cache
def _analyzer():  # noqa: ANN202 - vaderSentiment has no type hints
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(COLLECTIONS_LEXICON)
    return analyzer


def tone(texts: pd.Series) -> np.ndarray:
    """Each text's tone: VADER's compound score (-1..+1) with the collections lexicon; 0 for empty text."""
    analyzer = _analyzer()
    return np.array([analyzer.polarity_scores(t)["compound"] if t else 0.0 for t in texts.fillna("")], dtype=float)


def tone_word(value: float) -> str:
    """A tone score in a word, by VADER's thresholds."""
    return "negative" if value <= NEGATIVE_AT else "positive" if value >= POSITIVE_AT else "neutral"


def text_events(texts: pd.DataFrame) -> pd.DataFrame:
    """Notes and tickets (customer_id, on, text, is_ticket, closed_on) as dated counts per customer."""
    tones = tone(texts["text"])
    opened = pd.DataFrame(
        {
            "customer_id": texts["customer_id"],
            "on": texts["on"],
            "texts": 1.0,
            "tone_sum": tones,
            "negative": (tones <= NEGATIVE_AT).astype(float),
            "disputes": texts["text"].fillna("").astype(str).str.contains(DISPUTE_WORDS).astype(float),
            "tickets_opened": texts["is_ticket"].astype(float),
        }
    )
    closed = texts[texts["is_ticket"] & texts["closed_on"].notna()]
    closed = pd.DataFrame({"customer_id": closed["customer_id"], "on": closed["closed_on"], "tickets_closed": 1.0})
    return pd.concat([opened, closed], ignore_index=True)


COUNTS = ("texts", "tone_sum", "negative", "disputes", "tickets_opened", "tickets_closed", "deals")


def signals(invoices: pd.DataFrame, events: pd.DataFrame, recent_days: int = RECENT_DAYS) -> pd.DataFrame:
    """CRM_FEATURES for each invoice (customer_id, invoice_date), same order, from dated events (customer_id,
    on, and any of COUNTS): running totals known at the start of the issue day, less those of recent_days
    earlier."""
    events = events.reindex(columns=["customer_id", "on", *COUNTS]).fillna({c: 0.0 for c in COUNTS})
    events["on"] = pd.to_datetime(events["on"]).astype("datetime64[ns]")
    events["customer_id"] = events["customer_id"].astype(str)  # one key dtype, even with no events at all
    daily = events.groupby(["customer_id", "on"], as_index=False)[list(COUNTS)].sum().sort_values("on")
    daily[list(COUNTS)] = daily.groupby("customer_id")[list(COUNTS)].cumsum()
    left = pd.DataFrame(
        {
            "_row": np.arange(len(invoices)),
            "customer_id": invoices["customer_id"].astype(str).to_numpy(),
            "invoice_date": pd.to_datetime(invoices["invoice_date"]).astype("datetime64[ns]").to_numpy(),
        }
    )
    left["window_start"] = left["invoice_date"] - pd.Timedelta(days=recent_days)

    def known_before(column: str) -> pd.DataFrame:
        merged = pd.merge_asof(
            left.sort_values(column),
            daily,
            left_on=column,
            right_on="on",
            by="customer_id",
            allow_exact_matches=False,  # an event on the day itself is not known at its start
        )
        return merged.sort_values("_row")[list(COUNTS)].fillna(0.0).reset_index(drop=True)

    now, then = known_before("invoice_date"), known_before("window_start")
    recent = now - then
    out = pd.DataFrame(
        {
            "crm_tone": (recent["tone_sum"] / recent["texts"].where(recent["texts"] > 0)).round(4),
            "crm_negative_count": recent["negative"],
            "crm_dispute_mentions": recent["disputes"],
            "crm_open_tickets": (now["tickets_opened"] - now["tickets_closed"]).clip(lower=0),
            "crm_recent_deals": recent["deals"],
        }
    )
    return out


CRM_EVENTS = """
    with matched as (
        select tenant_id, contact_id, hubspot_company_id as company_id
        from intermediate.int_customer_matches where hubspot_company_id is not null
    )
    select m.tenant_id || ':' || m.contact_id as customer_id, cast(n.noted_at as date) as "on",
           n.body_text as text, false as is_ticket, cast(null as date) as closed_on
    from staging.stg_hubspot__notes n join matched m on m.company_id = n.company_id
    where n.noted_at is not null
    union all
    select m.tenant_id || ':' || m.contact_id, cast(t.created_at as date),
           concat_ws('. ', t.subject, t.content), true, cast(t.closed_at as date)
    from staging.stg_hubspot__tickets t join matched m on m.company_id = t.company_id
    where t.created_at is not null
"""
DEAL_EVENTS = """
    select m.tenant_id || ':' || m.contact_id as customer_id, cast(d.created_at as date) as "on", 1.0 as deals
    from staging.stg_hubspot__deals d
    join intermediate.int_customer_matches m on m.hubspot_company_id = d.company_id
    where d.created_at is not null
"""


def warehouse_events(db_path: Path) -> pd.DataFrame:
    """The warehouse's notes, tickets and deals of matched customers, as dated counts (see signals)."""
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        texts = con.sql(CRM_EVENTS).df()
        deals = con.sql(DEAL_EVENTS).df()
    texts["is_ticket"] = texts["is_ticket"].astype(bool)
    return pd.concat([text_events(texts), deals], ignore_index=True)
