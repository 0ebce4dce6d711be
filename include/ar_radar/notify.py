"""Compose the finance team's queue email and the owners' data-health alert; send each once.

Emails go through Airflow's SMTP connection (``smtp_default``) with the SMTP provider's hook.
``ops.email_log`` remembers what was sent, so retries and re-runs never send a duplicate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ar_radar.data_health import HealthReport

_env = Environment(
    loader=PackageLoader("ar_radar", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["money"] = lambda v: f"{float(v):,.2f}"


@dataclass(frozen=True)
class Email:
    kind: str
    dedupe_key: str
    subject: str
    html: str
    recipients: tuple[str, ...]
    attachments: tuple[Path, ...] = ()


def queue_email(queue: dict, recipients: tuple[str, ...], attachment: Path | None = None) -> Email:
    summary = queue["summary"]
    subject = (
        f"AR Radar action queue {queue['as_of_date']}: {summary['queued']} invoices to act on, "
        f"{summary['overdue_amount_base']:,.2f} overdue"
    )
    html = _env.get_template("action_queue_email.html.j2").render(queue=queue, summary=summary)
    return Email("action_queue", queue["as_of_date"], subject, html, recipients, (attachment,) if attachment else ())


def data_health_alert(report: HealthReport, recipients: tuple[str, ...], last_passed: str | None) -> Email:
    failures = report.critical_failures
    signature = "|".join(sorted(f"{c.table}.{c.column}.{c.check}" for c in failures))
    key = f"{report.as_of_date}:{hashlib.sha256(signature.encode()).hexdigest()[:16]}"
    subject = (
        f"AR Radar data-health alert {report.as_of_date}: {len(failures)} critical check(s) failed, "
        "today's scoring stopped"
    )
    html = _env.get_template("data_health_alert.html.j2").render(
        report=report, failures=failures, warnings=report.warnings, last_passed=last_passed
    )
    return Email("data_health_alert", key, subject, html, recipients)


def reconnect_alert(message: str, recipients: tuple[str, ...]) -> Email:
    """Xero's refresh token is dead: a person must reconnect. One email a day at most."""
    html = _env.get_template("reconnect_xero.html.j2").render(message=message)
    return Email(
        "reconnect_xero", date.today().isoformat(), "AR Radar: reconnect Xero (extraction stopped)", html, recipients
    )


def _ensure_log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute("""CREATE TABLE IF NOT EXISTS ops.email_log (
        kind VARCHAR, dedupe_key VARCHAR, subject VARCHAR, recipients VARCHAR, sent_at TIMESTAMPTZ,
        PRIMARY KEY (kind, dedupe_key))""")


def already_sent(db_path: Path, email: Email) -> bool:
    with duckdb.connect(str(db_path)) as con:
        _ensure_log(con)
        return (
            con.execute(
                "SELECT count(*) FROM ops.email_log WHERE kind = ? AND dedupe_key = ?", [email.kind, email.dedupe_key]
            ).fetchone()[0]
            > 0
        )


def send_once(db_path: Path, email: Email, smtp_conn_id: str, sender: str) -> bool:
    """Send through Airflow's SMTP hook unless this email was sent before. True if sent now."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    if already_sent(db_path, email):
        return False
    with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
        hook.send_email_smtp(
            to=list(email.recipients),
            subject=email.subject,
            html_content=email.html,
            from_email=sender,
            files=[str(p) for p in email.attachments] or None,
            custom_headers={"X-AR-Radar-Kind": email.kind, "X-AR-Radar-Key": email.dedupe_key},
        )
    with duckdb.connect(str(db_path)) as con:
        _ensure_log(con)
        con.execute(
            "INSERT INTO ops.email_log VALUES (?, ?, ?, ?, now())",
            [email.kind, email.dedupe_key, email.subject, ", ".join(email.recipients)],
        )
    return True
