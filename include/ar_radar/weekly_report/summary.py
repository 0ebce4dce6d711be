"""The week in plain English, every figure filled by code from the report (never from a model's text)."""

from __future__ import annotations

from ar_radar.weekly_report.figures import WeeklyReport


def money(report: WeeklyReport, amount: float | None) -> str:
    return f"{report.base_currency} {amount or 0:,.2f}"


def summary(report: WeeklyReport) -> str:
    r = report
    parts = [
        f"{r.organisation_name} is owed {money(r, r.outstanding)} on {r.open_invoices} open invoices, "
        f"{money(r, r.overdue)} of it overdue"
        + (f" ({r.overdue / r.outstanding * 100:.0f} %)." if r.outstanding else ".")
    ]
    expected = r.expected_this_week
    if expected.get("invoices"):
        parts.append(
            f"The scores expect {expected['invoices']} invoices worth {money(r, expected['amount'])} to be paid "
            "in the coming week."
        )
    if r.top_overdue:
        top = r.top_overdue[0]
        parts.append(f"{top['customer']} owes the most overdue: {money(r, top['overdue'])}.")
    sent, skipped = r.reminders.get("sent", 0), r.reminders.get("skipped", 0)
    parts.append(
        f"AR Radar sent {sent} reminder{'s' if sent != 1 else ''} this week"
        + (f" and held back {skipped} (reasons below)." if skipped else ".")
    )
    if r.owner_review:
        parts.append(f"{len(r.owner_review)} invoices over 45 days overdue need an owner's decision.")
    complete = [m for m in r.monthly if m["is_complete_month"] and m["dso_standard_days"] is not None]
    if len(complete) >= 2:
        last, before = complete[-1], complete[-2]
        change = round(last["dso_standard_days"]) - round(before["dso_standard_days"])
        direction = "down" if change < 0 else "up" if change > 0 else "unchanged"
        parts.append(
            f"DSO was {last['dso_standard_days']:.0f} days in {last['month_start']:%B}, {direction}"
            + (f" {abs(change):.0f} days" if change else "")
            + f" on {before['month_start']:%B}."
        )
    health = r.health
    if health.get("days_checked"):
        failed = health["days_checked"] - health["days_passed"]
        parts.append(
            f"The data passed its health check on {health['days_passed']} of {health['days_checked']} days"
            + (f"; {failed} day{'s' if failed != 1 else ''} failed." if failed else ".")
        )
    return " ".join(parts)
