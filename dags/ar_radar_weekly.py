"""AR Radar weekly report to the owners. Logic lives in the ``ar_radar`` package; this file only wires the task."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable
from ar_radar.pipeline.shards import Shard

DOC = """
### AR Radar weekly

Monday 07:00 (`AR_RADAR_WEEKLY_TIMEZONE`, default UTC): each Xero organisation's report for the week before, to
its owners (`AR_RADAR_WEEKLY_RECIPIENTS`, else `AR_RADAR_OWNER_RECIPIENTS`): where the cash is, what AR Radar did,
whether DSO moves, with charts. When the latest data-health check failed, the owners get a short note instead.
Sent once per organisation and week (`ops.email_log`); a copy of each is kept in
`data/output/weekly_report_<date>/`. With `AR_RADAR_SLACK_CONN_ID` set, each summary also goes to Slack.

Connections: `smtp_default`; optional `openai_default` (the summary's sentences; figures stay the code's) and a
Slack incoming-webhook connection. With `AR_RADAR_SHARDS` above 1, one mapped task per shard reads that shard's
warehouse (each organisation lives in exactly one).
"""


@dag(
    dag_id="ar_radar_weekly",
    schedule=CronTriggerTimetable("0 7 * * 1", timezone=os.environ.get("AR_RADAR_WEEKLY_TIMEZONE", "UTC")),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["ar-radar", "weekly", "report"],
    doc_md=DOC,
)
def ar_radar_weekly():  # noqa: ANN201
    @task  # retried like every task: ops.email_log stops a second email
    def send_weekly_reports(shard: int = 0) -> dict:
        """Each organisation's weekly report to its owners, or the held-back note after a failed gate."""
        from ar_radar.outreach import llm
        from ar_radar.pipeline import weekly
        from ar_radar.settings import Settings

        day = get_current_context()["logical_date"].date()
        settings = Shard.from_env(shard).settings(Settings.from_env())
        return weekly.send_weekly_reports(settings, day, llm.load_config(in_airflow=True))

    shards = Shard.all_from_env()
    if len(shards) == 1:
        send_weekly_reports()
    else:
        send_weekly_reports.expand(shard=[s.index for s in shards])


ar_radar_weekly()
