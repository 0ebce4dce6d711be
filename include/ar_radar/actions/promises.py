"""Promises to pay, found in CRM notes: "will pay INV-00042 by Friday", "promised payment next week", "on 5 December".

A note promises when it says so (``_PROMISE``) and names when: a date, a weekday or a relative phrase, read by
``dateparser`` against the day the note was logged (a weekday is the next one after that day). The warehouse keeps
them in ``intermediate.int_payment_promises`` (read by dbt's Python model ``int_crm_texts``); the queue and the
drafts judge each one against the run's day with ``status``: a promise holds the chasing of its invoices until the
promised day plus ``PROMISE_GRACE_DAYS``; after that it is broken and the next reminder is firmer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

PROMISE_GRACE_DAYS = 3  # a payment promised for Friday may take a few days to arrive
_PROMISE = re.compile(
    r"\b(?:promis\w*|will\s+(?:pay|settle|transfer|send\s+(?:the\s+)?payment)|(?:paying|pay|settle|payment)\s+"
    r"(?:it\s+|this\s+|them\s+)?(?:by|on|before|next)|payment\s+(?:for\s+\S+\s+)?(?:next|by|on)|confirmed\s+payment)",
    re.IGNORECASE,
)
_WHEN = re.compile(
    r"\b(?:(?:on|by|before)\s+)?(?P<when>\d{4}-\d{2}-\d{2}|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?[A-Z][a-z]+"
    r"(?:\s+\d{4})?|[A-Z][a-z]+\s+\d{1,2}(?:st|nd|rd|th)?|\d{1,2}/\d{1,2}(?:/\d{2,4})?|"
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|next\s+week|tomorrow|in\s+\d+\s+days?)\b",
    re.IGNORECASE,
)
_NOT_YET = re.compile(r"\b(?:did\s+not|didn't|never)\s+(?:arrive|come|pay)", re.IGNORECASE)


@dataclass(frozen=True)
class Promise:
    promised_for: date
    phrase: str  # the words the date was read from


def find_promise(text: str | None, logged: date | datetime) -> Promise | None:
    """The promise a note makes, or None. A note reporting that a promised payment did not come is no promise."""
    import dateparser

    if not text or not _PROMISE.search(text) or _NOT_YET.search(text):
        return None
    base = logged if isinstance(logged, datetime) else datetime.combine(logged, datetime.min.time())
    base = base.replace(tzinfo=None)
    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future", "DATE_ORDER": "DMY"}
    for match in _WHEN.finditer(text[_PROMISE.search(text).start() :]):
        when = match.group("when")
        parsed = dateparser.parse(when, settings=settings, languages=["en"])
        if parsed is not None and parsed.date() >= base.date():
            return Promise(parsed.date(), match.group(0).strip())
    return None


def status(promised_for: date, as_of: date, grace_days: int = PROMISE_GRACE_DAYS) -> str:
    """``pending`` until the promised day plus the grace, then ``broken`` (the invoice is still open)."""
    return "pending" if as_of <= promised_for + timedelta(days=grace_days) else "broken"
