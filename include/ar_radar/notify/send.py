"""Send an email once through Airflow's SMTP connection (``smtp_default``, the SMTP provider's hook).

``ops.email_log`` remembers what was sent, so retries and re-runs never send a duplicate.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from ar_radar import database
from ar_radar.notify.messages import Email


def already_sent(db_path: Path, email: Email) -> bool:
    with database.connect(db_path, read_only=False) as con:
        database.ensure(con, "ops.email_log")
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
    record(db_path, email.kind, email.dedupe_key, email.subject, email.recipients)
    return True


def send_message_once(db_path: Path, kind: str, key: str, message: EmailMessage, smtp_conn_id: str) -> bool:
    """The same for a message built whole (text, HTML and inline images: the hook's helper cannot make one)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    recipients = tuple(a.strip() for a in str(message["To"]).split(","))
    if already_sent(db_path, Email(kind, key, "", "", recipients)):
        return False
    with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
        hook._smtp_client.send_message(message)  # noqa: SLF001 - the client the hook opened from smtp_default
    record(db_path, kind, key, str(message["Subject"]), recipients)
    return True


def record(db_path: Path, kind: str, key: str, subject: str, recipients: tuple[str, ...]) -> None:
    with database.connect(db_path, read_only=False) as con:
        database.ensure(con, "ops.email_log")
        con.execute("INSERT INTO ops.email_log VALUES (?, ?, ?, ?, now())", [kind, key, subject, ", ".join(recipients)])
