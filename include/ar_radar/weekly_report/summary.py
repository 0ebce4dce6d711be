"""The week in plain English, every figure filled by code from the report (never from a model's text): the
template's sentences, or, with a model configured, its sentences around placeholders the code fills."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from ar_radar.outreach import llm
from ar_radar.outreach.guardrails import check_model_fields
from ar_radar.weekly_report.figures import WeeklyReport
from ar_radar.wording import count


def money(report: WeeklyReport, amount: float | None) -> str:
    return f"{report.base_currency} {amount or 0:,.2f}"


def summary(report: WeeklyReport) -> str:
    r = report
    parts = [
        f"{r.organisation_name} is owed {money(r, r.outstanding)} on {count(r.open_invoices, 'open invoice')}, "
        f"{money(r, r.overdue)} of it overdue"
        + (f" ({r.overdue / r.outstanding * 100:.0f} %)." if r.outstanding else ".")
    ]
    expected = r.expected_this_week
    if expected.get("invoices"):
        parts.append(
            f"The scores expect {count(expected['invoices'], 'invoice')} worth {money(r, expected['amount'])} "
            "to be paid in the coming week."
        )
    if r.top_overdue:
        top = r.top_overdue[0]
        parts.append(f"{top['customer']} owes the most overdue: {money(r, top['overdue'])}.")
    sent, skipped = r.reminders.get("sent", 0), r.reminders.get("skipped", 0)
    parts.append(
        f"AR Radar sent {count(sent, 'reminder')} this week"
        + (f" and held back {skipped} (reasons below)." if skipped else ".")
    )
    if r.owner_review:
        needs = "needs" if len(r.owner_review) == 1 else "need"
        parts.append(f"{count(len(r.owner_review), 'invoice')} over 45 days overdue {needs} an owner's decision.")
    complete = [m for m in r.monthly if m["is_complete_month"] and m["dso_standard_days"] is not None]
    if len(complete) >= 2:
        last, before = complete[-1], complete[-2]
        change = round(last["dso_standard_days"]) - round(before["dso_standard_days"])
        direction = "down" if change < 0 else "up" if change > 0 else "unchanged"
        parts.append(
            f"DSO was {count(last['dso_standard_days'], 'day')} in {last['month_start']:%B}, {direction}"
            + (f" {count(abs(change), 'day')}" if change else "")
            + f" on {before['month_start']:%B}."
        )
    health = r.health
    if health.get("days_checked"):
        failed = health["days_checked"] - health["days_passed"]
        parts.append(
            f"The data passed its health check on {health['days_passed']} of {count(health['days_checked'], 'day')}"
            + (f"; {count(failed, 'day')} failed." if failed else ".")
        )
    return " ".join(parts)


# The model's version: it writes the sentences with a {placeholder} for every figure and name, and never sees
# either; the code checks what it wrote (the drafting guardrails) and fills the placeholders in.
class WeeklySummaryProse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weekly_summary: str = Field(
        description="Three or four short sentences for the business owner. Write every figure and every name only "
        "as one of the given {placeholders}; never write a digit, an amount, a date or a name yourself."
    )


INSTRUCTIONS = (
    "You write the opening paragraph of a small business's weekly accounts-receivable report, for its owner: plain "
    "English, calm and factual, no advice beyond what the facts say, no greeting or sign-off. The data lists the "
    "placeholders you may use (each stands for a figure or a name the report fills in) and the direction of a few "
    "trends. Use placeholders for every figure and name."
)
MAX_WORDS = 120
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def placeholders(report: WeeklyReport) -> dict[str, tuple[str, str]]:
    """name -> (what it stands for, its value written by the code), for the facts this report has."""
    r = report
    found = {
        "organisation": ("the business's name", r.organisation_name),
        "outstanding": ("total owed to the business", money(r, r.outstanding)),
        "open_invoices": ("number of open invoices", str(r.open_invoices)),
        "overdue": ("amount overdue", money(r, r.overdue)),
        "sent": ("reminders sent this week", str(r.reminders.get("sent", 0))),
        "held_back": ("reminders held back this week", str(r.reminders.get("skipped", 0))),
    }
    if r.outstanding:
        found["overdue_share"] = ("share of the total that is overdue", f"{r.overdue / r.outstanding * 100:.0f} %")
    if r.expected_this_week.get("invoices"):
        found["expected_amount"] = ("payments expected in the coming week", money(r, r.expected_this_week["amount"]))
        found["expected_invoices"] = (
            "invoices expected paid in the coming week",
            str(r.expected_this_week["invoices"]),
        )
    if r.top_overdue:
        found["top_customer"] = ("the customer with most overdue", r.top_overdue[0]["customer"])
        found["top_customer_overdue"] = ("what that customer has overdue", money(r, r.top_overdue[0]["overdue"]))
    if r.owner_review:
        found["owner_review"] = ("invoices over 45 days needing an owner's decision", str(len(r.owner_review)))
    complete = [m for m in r.monthly if m["is_complete_month"] and m["dso_standard_days"] is not None]
    if complete:
        found["dso"] = ("DSO of the last complete month, in days", f"{complete[-1]['dso_standard_days']:.0f}")
    return found


def _directions(report: WeeklyReport) -> dict[str, str]:
    complete = [m for m in report.monthly if m["is_complete_month"] and m["dso_standard_days"] is not None]
    dso = "unknown"
    if len(complete) >= 2:
        change = round(complete[-1]["dso_standard_days"]) - round(complete[-2]["dso_standard_days"])
        dso = "down (better)" if change < 0 else "up (worse)" if change > 0 else "unchanged"
    health = report.health
    return {
        "dso_since_the_month_before": dso,
        "data_health_this_week": "no checks"
        if not health.get("days_checked")
        else "all passed"
        if health["days_passed"] == health["days_checked"]
        else "some days failed",
    }


def model_summary(report: WeeklyReport, config: llm.LlmConfig) -> tuple[str | None, str | None]:
    """The model's paragraph with the code's figures in it, or (None, why not) for the template to take over."""
    values = placeholders(report)
    data = {"placeholders": {name: what for name, (what, _) in values.items()}, "trends": _directions(report)}
    answer = llm.write(config, INSTRUCTIONS, data, WeeklySummaryProse)
    if answer.parsed is None:
        return None, answer.failure
    text = " ".join(answer.parsed.weekly_summary.split())
    unknown = sorted(set(_PLACEHOLDER.findall(text)) - values.keys())
    if unknown:
        return None, f"unknown placeholder(s): {', '.join(unknown)}"
    if violations := check_model_fields({"weekly_summary": _PLACEHOLDER.sub("", text)}):
        return None, "; ".join(str(v) for v in violations)
    if len(text.split()) > MAX_WORDS:
        return None, f"over {MAX_WORDS} words"
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)][1], text), None


def write_summary(report: WeeklyReport, config: llm.LlmConfig | None) -> None:
    """The report's summary: the model's when one is configured and its paragraph passes, else the template's."""
    report.summary_writer, report.summary_fallback = "template", None
    if config is not None:
        text, failure = model_summary(report, config)
        if text is not None:
            report.summary, report.summary_writer = text, f"model:{config.model}"
            return
        report.summary_fallback = failure
    report.summary = summary(report)
