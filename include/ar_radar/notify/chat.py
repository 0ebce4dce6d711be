"""The weekly summary and the data-health alert in a Slack channel too, through Airflow's Slack provider (its
incoming-webhook notifier on a connection). Off unless ``AR_RADAR_SLACK_CONN_ID`` names a connection; each
message is posted once (``ops.email_log`` keeps chat posts beside emails)."""

from __future__ import annotations

import logging
from pathlib import Path

from ar_radar.notify.send import already_sent, record

log = logging.getLogger(__name__)


def post_once(db_path: Path, conn_id: str | None, kind: str, key: str, text: str) -> bool:
    """Post ``text`` to the connection's Slack channel unless it was posted before; True if posted now. The
    message is plain text (Slack's mrkdwn marks in customer names are not interpreted: ``<``, ``>``, ``&`` escaped)."""
    if not conn_id:
        return False
    kind = f"slack_{kind}"
    if already_sent(db_path, kind, key):
        return False
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # Slack's own escaping
    SlackWebhookNotifier(slack_webhook_conn_id=conn_id, text=safe).notify({})
    record(db_path, kind, key, text[:200], (f"slack:{conn_id}",))
    return True
