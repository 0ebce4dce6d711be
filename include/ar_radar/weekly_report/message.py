"""The weekly report as an email: HTML with its charts embedded by Content-ID (PNG), the same numbers as text,
and the short note owners get instead when the latest data-health check failed."""

from __future__ import annotations

import os
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ar_radar.weekly_report.charts import charts
from ar_radar.weekly_report.figures import WeeklyReport
from ar_radar.wording import count

_env = Environment(
    loader=PackageLoader("ar_radar.weekly_report", "templates"),
    autoescape=select_autoescape(["html.j2"]),  # customer names and ticket subjects are untrusted: escaped
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["count"] = count  # "1 invoice", "3 days", as the summary words them

KIND = "weekly_report"
CAUSAL_NOTE = (
    "What is and is not causal: DSO, CEI and the share overdue move with the season, the customers you have and "
    "the economy, not only with reminders, so their trend since AR Radar started is not proof that it worked. "
    "Only the comparison of reminded and held-out customers (on when AR_RADAR_HOLDOUT_PERCENT is above 0) "
    "measures the effect of reminders, and only within its 95 % interval."
)


def subject(report: WeeklyReport) -> str:
    return (
        f"AR Radar weekly: {report.organisation_name}, {report.base_currency} {report.overdue:,.2f} overdue "
        f"(week to {report.week_end})"
    )


def report_email(report: WeeklyReport, recipients: tuple[str, ...], sender: str) -> tuple[EmailMessage, str]:
    """The report's email and its HTML as written (CIDs resolve to the PNGs attached inside the message)."""
    images = charts(report)
    named = dict(zip(("aging", "trend", "cash"), images, strict=True))
    html = _env.get_template("weekly_report.html.j2").render(r=report, charts=named, causal_note=CAUSAL_NOTE)
    text = _env.get_template("weekly_report.txt.j2").render(r=report, causal_note=CAUSAL_NOTE)
    msg = EmailMessage()
    msg["Subject"] = subject(report)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Message-ID"] = make_msgid(idstring=f"weekly-{report.tenant_id[:8]}-{report.as_of}")
    msg["X-AR-Radar-Kind"] = KIND
    msg["X-AR-Radar-Key"] = dedupe_key(report.tenant_id, report.as_of)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    html_part = msg.get_payload()[1]
    for chart in images:
        html_part.add_related(chart.png, "image", "png", cid=f"<{chart.cid}>", filename=f"{chart.cid}.png")
    return msg, html


def dedupe_key(tenant_id: str, as_of: object) -> str:
    return f"{tenant_id}:{as_of}"


def skipped_note(
    organisation_name: str,
    tenant_id: str,
    as_of: object,
    gate: dict,
    recipients: tuple[str, ...],
    sender: str,
    data_docs_url: str | None = None,
) -> EmailMessage:
    """Instead of the report when the latest gate failed: says so, when, and where the alert is."""
    msg = EmailMessage()
    msg["Subject"] = f"AR Radar weekly: {organisation_name}, report held back (data-health check failed)"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["X-AR-Radar-Kind"] = f"{KIND}_skipped"
    msg["X-AR-Radar-Key"] = dedupe_key(tenant_id, as_of)
    msg.set_content(
        f"This week's report for {organisation_name} is held back: the latest data-health check "
        f"({gate['as_of_date']}, run {gate['run_id']}) failed with {gate['critical_failures']} critical "
        "problem(s), so its figures could be wrong. The data-health alert sent to you that day "
        f"(subject 'AR Radar data-health alert ({gate['as_of_date']})') says what failed and what to do. "
        "The report comes back with the next healthy daily run."
        + (f" Every check's results: {data_docs_url}" if data_docs_url else "")
    )
    return msg


def write_preview(message: EmailMessage, html: str, folder: Path, stem: str) -> Path:
    """The email as ``<stem>.eml``, its HTML (``<stem>.html``, images as local files) and the PNGs, for a look."""
    folder.mkdir(parents=True, exist_ok=True)
    for part in message.walk():
        if part.get_content_type() == "image/png":
            cid = part["Content-ID"].strip("<>")
            (folder / f"{cid}.png").write_bytes(part.get_content())
            html = html.replace(f"cid:{cid}", f"{cid}.png")
    (folder / f"{stem}.html").write_text(html, encoding="utf-8")
    path = folder / f"{stem}.eml"
    tmp = path.with_suffix(".eml.tmp")
    tmp.write_bytes(bytes(message))
    os.replace(tmp, path)
    return path
