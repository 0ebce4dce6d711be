"""Did reminders work? With the holdout on (``AR_RADAR_HOLDOUT_PERCENT``), reminded and held-out customers are
compared on the invoices that fell overdue in the last 90 days: the share collected within 7 days of the due date
and the mean days paid late, each difference with a 95 % confidence interval.

The holdout is a stable random share of customers (``outreach.sending.in_holdout``), so the difference estimates
what being eligible for reminders changes (an intention-to-treat effect), within its interval. Nothing else in the
report is causal: DSO and CEI move with the season, the customer mix and the economy too.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import duckdb

from ar_radar.outreach.sending import in_holdout

WINDOW_DAYS = 90
Z95 = 1.959964

# Invoices that fell due in the window, were not paid by their due date, and whose 7 days after it have passed.
OVERDUE_IN_WINDOW = """
    select tenant_id::varchar, contact_id::varchar, due_date, fully_paid_on_date, days_paid_late
    from intermediate.int_sales_invoices
    where contact_id is not null and due_date between ? and ?
      and (fully_paid_on_date is null or fully_paid_on_date > due_date)
"""


def holdout_comparison(con: duckdb.DuckDBPyConnection, as_of: date, percent: int) -> dict[str, dict]:
    """Per organisation: each group's invoices, share collected within 7 days of due, mean days late of those
    paid, and the differences (reminded minus held out) with 95 % intervals. Empty when the holdout is off."""
    if percent <= 0:
        return {}
    end = as_of - timedelta(days=8)
    rows = con.execute(OVERDUE_IN_WINDOW, [end - timedelta(days=WINDOW_DAYS), end]).fetchall()
    groups: dict[str, dict[str, list]] = {}
    for tenant, contact, due, paid_on, days_late in rows:
        group = "held_out" if in_holdout(tenant, contact, percent) else "reminded"
        g = groups.setdefault(tenant, {"reminded": [], "held_out": []})[group]
        g.append((paid_on is not None and paid_on <= due + timedelta(days=7), days_late if paid_on else None))
    return {tenant: _compare(g["reminded"], g["held_out"]) for tenant, g in groups.items()}


def _compare(reminded: list[tuple], held_out: list[tuple]) -> dict:
    a, b = _stats(reminded), _stats(held_out)
    out = {"reminded": a, "held_out": b, "window_days": WINDOW_DAYS}
    if a["invoices"] and b["invoices"]:
        diff = a["within_7_days"] - b["within_7_days"]
        se = math.sqrt(
            a["within_7_days"] * (1 - a["within_7_days"]) / a["invoices"]
            + b["within_7_days"] * (1 - b["within_7_days"]) / b["invoices"]
        )
        out["within_7_days_difference"] = _interval(diff, se)
    if a["paid"] > 1 and b["paid"] > 1:
        diff = a["mean_days_late"] - b["mean_days_late"]
        se = math.sqrt(a["var_days_late"] / a["paid"] + b["var_days_late"] / b["paid"])
        out["days_late_difference"] = _interval(diff, se)
    return out


def _stats(items: list[tuple]) -> dict:
    days = [d for _, d in items if d is not None]
    mean = sum(days) / len(days) if days else None
    var = sum((d - mean) ** 2 for d in days) / (len(days) - 1) if len(days) > 1 else None
    return {
        "invoices": len(items),
        "within_7_days": sum(1 for quick, _ in items if quick) / len(items) if items else None,
        "paid": len(days),
        "mean_days_late": mean,
        "var_days_late": var,
    }


def _interval(diff: float, se: float) -> dict:
    return {"estimate": diff, "low": diff - Z95 * se, "high": diff + Z95 * se}
