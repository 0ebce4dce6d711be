"""Chat: the weekly summary and the data-health alert through Airflow's Slack webhook notifier, against a local
webhook receiver speaking Slack's wire format; once each, off by default, text escaped for Slack."""

import duckdb
from ar_radar import database
from ar_radar.local.webhook_sink import WebhookSink
from ar_radar.notify.chat import post_once


def test_a_message_is_posted_once_and_escaped(tmp_path, monkeypatch):
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema ops")
        database.ensure(con, "ops.email_log")
    with WebhookSink() as hook:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_AR_RADAR", hook.airflow_connection())
        assert not post_once(db, None, "weekly_report", "t:2026-11-23", "off")  # no connection: nothing
        assert post_once(db, "slack_ar_radar", "weekly_report", "t:2026-11-23", "<!channel> Acme & Co owes 5")
        assert not post_once(db, "slack_ar_radar", "weekly_report", "t:2026-11-23", "again")  # a re-run
        assert post_once(db, "slack_ar_radar", "weekly_report", "u:2026-11-23", "the other organisation")
    assert [m["text"] for m in hook.received] == ["&lt;!channel&gt; Acme &amp; Co owes 5", "the other organisation"]
    assert hook.received[0]["path"] == "/services/T000/B000/sandbox"
