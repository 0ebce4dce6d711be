"""The tone of a HubSpot note or ticket: the one definition of a negative CRM text.

dbt's Python model ``int_crm_texts`` calls ``tone`` for every note and ticket; the daily customer history and
the feature marts count and average it over the recent window (``RECENT_DAYS``, dbt var
``recent_activity_days``): ``recent_crm_tone``, ``recent_negative_text_count``, ``recent_negative_note_count``.

Tone is VADER (``vaderSentiment``: a lexicon and rules, offline, no API key and no model download) with a
small collections lexicon on top: general-purpose VADER reads "promised payment next week" as warm and
does not know "overdue" or "chased". The model uses the CRM features only where the backtest shows they
help (``registry.train`` backtests with and without them and records both).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from ar_radar.warehouse.build import project_var

RECENT_DAYS = int(project_var("recent_activity_days"))
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
