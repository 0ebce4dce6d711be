"""The weekly DAG's step: each organisation's report to its owners, once per week, or a short note instead when
the latest data-health check failed."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

from ar_radar import database
from ar_radar.gate.history import health_summary
from ar_radar.notify import chat
from ar_radar.notify.send import send_message_once
from ar_radar.outreach import llm
from ar_radar.settings import Settings
from ar_radar.weekly_report import figures, impact, message
from ar_radar.weekly_report.summary import write_summary

log = logging.getLogger(__name__)

LATEST_GATE = """
    select run_id, as_of_date, passed, critical_failures from ops.data_health_runs
    where as_of_date <= ? order by checked_at desc limit 1
"""


def latest_gate(db_path: Path, as_of: date) -> dict | None:
    with database.connect(db_path, read_only=True) as con:
        if not database.has_table(con, "ops.data_health_runs"):
            return None
        found = database.rows(con, LATEST_GATE, [as_of])
    return found[0] if found else None


def weekly_reports(
    settings: Settings, as_of: date, only: set[str] | None = None, model: llm.LlmConfig | None = None
) -> list[tuple[figures.WeeklyReport, EmailMessage, str]]:
    """Each organisation's report for the week before ``as_of`` (or those in ``only``, by tenant id): the figures,
    the email and its HTML. With ``model``, the summary's sentences are the model's (figures still the code's)."""
    health = health_summary(settings.db_path, as_of - timedelta(days=7), as_of - timedelta(days=1))
    with database.connect(settings.db_path, read_only=True) as con:
        reports = figures.build_reports(con, as_of, health, only=only)
        holdout = impact.holdout_comparison(con, as_of, settings.holdout_percent)
    built = []
    for report in reports:
        report.holdout = holdout.get(report.tenant_id)
        write_summary(report, model)
        recipients = settings.report_recipients(report.tenant_id, report.organisation_name)
        email, html = message.report_email(report, recipients, settings.email_from)
        built.append((report, email, html))
    return built


def preview_folder(settings: Settings, as_of: date) -> Path:
    return settings.output_dir / f"weekly_report_{as_of}"


def send_weekly_reports(settings: Settings, as_of: date, model: llm.LlmConfig | None = None) -> dict:
    """Send each organisation's report once (``ops.email_log``: a re-run sends nothing twice) and keep a copy of
    each (.eml, .html, PNGs) beside the queue. After a failed gate, each organisation's owners get the note."""
    if not settings.db_path.exists():  # a shard that owns no organisation (yet) has no warehouse and no owners
        log.warning("No warehouse at %s: no weekly report and no note.", settings.db_path)
        return {"skipped": f"no warehouse at {settings.db_path}", "sent": []}
    gate = latest_gate(settings.db_path, as_of)
    if gate is None or not gate["passed"]:
        return _send_skipped_notes(settings, as_of, gate)
    folder = preview_folder(settings, as_of)
    sent = []
    for report, email, html in weekly_reports(settings, as_of, model=model):
        stem = f"{report.organisation_name.replace('/', '-')}"
        message.write_preview(email, html, folder, stem)
        key = message.dedupe_key(report.tenant_id, as_of)
        if send_message_once(settings.db_path, message.KIND, key, email, settings.smtp_conn_id):
            sent.append(report.organisation_name)
        chat.post_once(
            settings.db_path, settings.slack_conn_id, message.KIND, key, f"{email['Subject']}\n{report.summary}"
        )
        log.info("weekly report %s to %s: %s", report.organisation_name, email["To"], key)
    return {"sent": sent, "folder": str(folder), "gate_run": gate["run_id"]}


def _send_skipped_notes(settings: Settings, as_of: date, gate: dict | None) -> dict:
    if gate is None:
        log.warning("No data-health run on or before %s: no weekly report and no note.", as_of)
        return {"skipped": "no data-health run yet", "sent": []}
    with database.connect(settings.db_path, read_only=True) as con:
        organisations = database.rows(con, figures.ORGANISATIONS)
    sent = []
    for org in organisations:
        name = org["organisation_name"] or org["tenant_id"]
        recipients = settings.report_recipients(org["tenant_id"], name)
        note = message.skipped_note(
            name, org["tenant_id"], as_of, gate, recipients, settings.email_from, settings.data_docs_url
        )
        key = message.dedupe_key(org["tenant_id"], as_of)
        if send_message_once(settings.db_path, f"{message.KIND}_skipped", key, note, settings.smtp_conn_id):
            sent.append(name)
        chat.post_once(settings.db_path, settings.slack_conn_id, f"{message.KIND}_skipped", key, note.get_content())
    return {"skipped": f"the latest data-health check ({gate['as_of_date']}) failed", "sent": sent}
