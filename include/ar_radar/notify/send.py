"""Send an email once through Airflow's SMTP connection (``smtp_default``, the SMTP provider's hook).

``ops.email_log`` remembers what was sent, so retries and re-runs never send a duplicate.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from ar_radar import database
from ar_radar.notify.messages import Email


def already_sent(db_path: Path, kind: str, dedupe_key: str) -> bool:
    with database.connect(db_path, read_only=False) as con:
        database.ensure(con, "ops.email_log")
        return (
            con.execute(
                "SELECT count(*) FROM ops.email_log WHERE kind = ? AND dedupe_key = ?", [kind, dedupe_key]
            ).fetchone()[0]
            > 0
        )


def send_once(db_path: Path, email: Email, smtp_conn_id: str, sender: str) -> bool:
    """Send through Airflow's SMTP hook unless this email was sent before. True if sent now."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    if already_sent(db_path, email.kind, email.dedupe_key):
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
    record(db_path, email.kind, email.dedupe_key, email.subject, email.recipients)
    return True


def deliver(smtp_conn_id: str, message: EmailMessage) -> None:
    """Send a message built whole (plain text, HTML, inline images) on the client Airflow's SMTP hook opened from
    the connection (host, TLS, login): the hook's send_email_smtp cannot send a plain-text part with the HTML."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
        hook._smtp_client.send_message(message)  # noqa: SLF001


def send_message_once(db_path: Path, kind: str, key: str, message: EmailMessage, smtp_conn_id: str) -> bool:
    """The same as send_once for a message built whole."""
    if already_sent(db_path, kind, key):
        return False
    deliver(smtp_conn_id, message)
    recipients = tuple(a.strip() for a in str(message["To"]).split(","))
    record(db_path, kind, key, str(message["Subject"]), recipients)
    return True


def record(db_path: Path, kind: str, key: str, subject: str, recipients: tuple[str, ...]) -> None:
    with database.connect(db_path, read_only=False) as con:
        database.ensure(con, "ops.email_log")
        con.execute("INSERT INTO ops.email_log VALUES (?, ?, ?, ?, now())", [kind, key, subject, ", ".join(recipients)])
