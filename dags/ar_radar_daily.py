"""AR Radar daily pipeline. Logic lives in the ``ar_radar`` package; this file only wires tasks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from airflow.sdk import dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

DOC = """
### AR Radar daily

Extract Xero (one mapped task per organisation) and HubSpot, in parallel, to landing files
-> load raw into DuckDB -> `dbt build` -> Great Expectations data-health gate -> score open
invoices -> action queue JSON -> email to finance. When the gate finds a critical problem,
scoring and the queue are skipped and the owners get one data-health alert instead.
See ARCHITECTURE.md for the tables between stages.

Connections: `xero_default`, `hubspot_default`, `smtp_default`.
"""


def _run() -> tuple[str, object]:
    context = get_current_context()
    return context["run_id"], context["logical_date"].date()


@contextmanager
def _xero_failures(settings: object) -> Iterator[None]:
    """Xero's own failure modes, as Airflow states: a used-up day limit skips (the other organisations go
    on, this one resumes next run); a dead refresh token fails without retrying and tells the owners."""
    from ar_radar import daily
    from ar_radar.extract.xero import XeroDayLimitReached
    from ar_radar.extract.xero_auth import XeroReconnectRequired

    try:
        yield
    except XeroDayLimitReached as exc:
        raise AirflowSkipException(str(exc)) from None
    except XeroReconnectRequired as exc:
        daily.send_reconnect_alert(settings, str(exc))
        raise AirflowFailException(str(exc)) from None


def _settings():  # noqa: ANN202 - imported lazily to keep DAG parsing fast
    from ar_radar.settings import Settings

    return Settings.from_env()


@dag(
    dag_id="ar_radar_daily",
    schedule="0 6 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # DuckDB has one writer
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=int(os.environ.get("AR_RADAR_RETRY_DELAY_SECONDS", "120"))),
        "retry_exponential_backoff": True,
    },
    tags=["ar-radar", "xero", "hubspot", "daily"],
    doc_md=DOC,
)
def ar_radar_daily():  # noqa: ANN201
    @task
    def list_xero_organisations() -> list[dict]:
        from ar_radar import daily
        from ar_radar.connections import connection_from_airflow

        settings = _settings()
        with _xero_failures(settings):
            return daily.list_xero_organisations(connection_from_airflow(settings.xero_conn_id), settings)

    @task(map_index_template="{{ organisation_name }}")
    def extract_xero(organisation: dict) -> dict:
        """One mapped task per Xero organisation: limits and failures stay per organisation."""
        from ar_radar import daily
        from ar_radar.connections import connection_from_airflow

        get_current_context()["organisation_name"] = organisation.get("tenant_name") or organisation["tenant_id"]
        settings = _settings()
        conn = connection_from_airflow(settings.xero_conn_id)
        with _xero_failures(settings):
            return daily.extract_xero_organisation(conn, settings, _run()[0], organisation)

    @task
    def extract_hubspot() -> list[dict]:
        from ar_radar import daily
        from ar_radar.connections import connection_from_airflow

        settings = _settings()
        return daily.extract("hubspot", connection_from_airflow(settings.hubspot_conn_id), settings, _run()[0])

    @task(trigger_rule="none_failed_min_one_success")
    def load_raw() -> dict:
        from ar_radar import daily

        return daily.load_raw(_settings())

    @task
    def build_warehouse() -> dict:
        from ar_radar import daily

        return daily.build_warehouse(_settings(), _run()[1])

    @task.branch
    def check_data_health(**context) -> str:  # noqa: ANN003
        from ar_radar import daily

        run_id, as_of = _run()
        report = daily.check_data_health(_settings(), run_id, as_of)
        context["ti"].xcom_push(key="report", value=report)
        return "score_open_invoices" if report["passed"] else "send_data_health_alert"

    @task
    def send_data_health_alert(**context) -> dict:  # noqa: ANN003
        from ar_radar import daily

        report = context["ti"].xcom_pull(task_ids="check_data_health", key="report")
        outcome = daily.send_data_health_alert(_settings(), report)
        # Fail (without retrying) so the run shows red to the data engineer; the owners have the alert.
        raise AirflowFailException(
            "Data-health gate failed, scoring skipped, owners alerted: " + "; ".join(outcome["failures"])
        )

    @task
    def score_open_invoices() -> dict:
        from ar_radar import daily

        return daily.score(_settings(), _run()[1])

    @task
    def build_action_queue(**context) -> str:  # noqa: ANN003
        from ar_radar import daily

        report = context["ti"].xcom_pull(task_ids="check_data_health", key="report")
        return daily.build_queue(_settings(), _run()[1], report)

    @task
    def email_action_queue(queue_path: str) -> dict:
        from ar_radar import daily

        return daily.email_queue(_settings(), queue_path)

    gate = check_data_health()
    xero = extract_xero.expand(organisation=list_xero_organisations())
    [xero, extract_hubspot()] >> load_raw() >> build_warehouse() >> gate
    gate >> send_data_health_alert()
    queue = build_action_queue()
    gate >> score_open_invoices() >> queue
    email_action_queue(queue)


ar_radar_daily()
