"""Counts in the words people read (the queue, the reports, the reminders' notes): "1 day", "3 days"."""

from __future__ import annotations


def count(n: float, word: str) -> str:
    """``n`` (a whole number as shown) and ``word``, plural unless it shows as 1: "1 invoice", "1,204 days"."""
    shown = f"{n:,.0f}"
    return f"{shown} {word}{'' if shown == '1' else 's'}"
