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
-> load raw into DuckDB -> `dbt build` -> Great Expectations data-health gate -> weekly retrain of
each organisation's risk model -> score open invoices -> action queue JSON (one row per customer) -> one reminder
draft per customer who needs one, and their review page -> email to finance linking each draft (nothing is sent
to customers yet).
When the gate finds a critical problem it emails the owners one data-health alert and fails;
training, scoring, the queue and its email are skipped.
`fail_run_if_a_step_failed` keeps the run red when any step failed.
See ARCHITECTURE.md for the tables between stages.

Connections: `xero_default`, `hubspot_default`, `smtp_default`, optional `openai_default` (drafts' prose).
"""


def _run() -> tuple[str, object]:
    context = get_current_context()
    return context["run_id"], context["logical_date"].date()


@contextmanager
def _xero_failures(settings: object) -> Iterator[None]:
    """Xero's own failure modes, as Airflow states: a used-up day limit skips (the other organisations go
    on, this one resumes next run); a dead refresh token fails without retrying and tells the owners."""
    from ar_radar.extract.xero import XeroDayLimitReached
    from ar_radar.extract.xero_auth import XeroReconnectRequired
    from ar_radar.pipeline import daily

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
        from ar_radar.extract.connections import connection_from_airflow
        from ar_radar.pipeline import daily

        settings = _settings()
        with _xero_failures(settings):
            return daily.list_xero_organisations(connection_from_airflow(settings.xero_conn_id), settings)

    @task(map_index_template="{{ organisation_name }}")
    def extract_xero(organisation: dict) -> dict:
        """One mapped task per Xero organisation: limits and failures stay per organisation."""
        from ar_radar.extract.connections import connection_from_airflow
        from ar_radar.pipeline import daily

        get_current_context()["organisation_name"] = organisation.get("tenant_name") or organisation["tenant_id"]
        settings = _settings()
        conn = connection_from_airflow(settings.xero_conn_id)
        with _xero_failures(settings):
            return daily.extract_xero(conn, settings, _run()[0], organisation)

    @task
    def extract_hubspot() -> list[dict]:
        from ar_radar.extract.connections import connection_from_airflow
        from ar_radar.pipeline import daily

        settings = _settings()
        return daily.extract_hubspot(connection_from_airflow(settings.hubspot_conn_id), settings, _run()[0])

    @task(trigger_rule="none_failed_min_one_success")
    def load_raw() -> dict:
        from ar_radar.pipeline import daily

        return daily.load_raw(_settings())

    @task
    def build_warehouse() -> dict:
        from ar_radar.pipeline import daily

        return daily.build_warehouse(_settings(), _run()[1])

    @task
    def check_data_health() -> dict:
        """The gate: on a critical failure it alerts the owners (one email) and fails, without retrying."""
        from ar_radar.gate.report import GateNotPassed
        from ar_radar.pipeline import daily

        try:
            return daily.check_data_health(_settings(), *_run())
        except GateNotPassed as exc:
            raise AirflowFailException(str(exc)) from None

    # all_done: runs after a failed gate too, only to see that and skip itself, so the steps after
    # the gate show as skipped rather than upstream_failed.
    @task(trigger_rule="all_done")
    def train_risk_models() -> list[dict]:
        """Weekly: a model per organisation with enough history, kept with its backtest metrics."""
        from ar_radar.gate.report import GateNotPassed
        from ar_radar.pipeline import daily

        try:
            return daily.train_risk_models(_settings(), *_run())
        except GateNotPassed as exc:
            raise AirflowSkipException(str(exc)) from None

    # all_done: a failed retrain does not stop the day's queue (the models in use stay); a failed gate does.
    @task(trigger_rule="all_done")
    def score_open_invoices() -> dict:
        from ar_radar.gate.report import GateNotPassed
        from ar_radar.pipeline import daily

        try:
            return daily.score_open_invoices(_settings(), *_run())
        except GateNotPassed as exc:
            raise AirflowSkipException(str(exc)) from None

    @task
    def build_action_queue() -> str:
        from ar_radar.pipeline import daily

        return daily.build_action_queue(_settings(), *_run())

    @task
    def draft_reminders() -> dict:
        """One reminder draft per customer who needs one (the model's prose under guardrails, or templates)."""
        from ar_radar.extract.connections import connection_from_airflow
        from ar_radar.outreach import llm
        from ar_radar.pipeline import daily

        settings = _settings()
        model = llm.load_config(in_airflow=True)
        return daily.draft_reminders(settings, *_run(), connection_from_airflow(settings.xero_conn_id), model)

    # none_skipped: the queue goes to finance even when drafting failed (it then mentions no drafts); after a
    # failed gate the queue is skipped, and so is this. The queue is found by the run's day, not through XCom,
    # which an upstream failure would leave empty.
    @task(trigger_rule="none_skipped")
    def email_action_queue() -> dict:
        from ar_radar.pipeline import daily

        settings = _settings()
        queue_path = daily.queue_path(settings, _run()[1])
        if not queue_path.exists():
            raise AirflowSkipException("No action queue was built for this day: nothing to email.")
        return daily.email_action_queue(settings, str(queue_path))

    @task(trigger_rule="one_failed", retries=0)
    def fail_run_if_a_step_failed() -> None:
        """Airflow judges a run by its last tasks, which are skipped after a failed gate: this keeps the run
        red whenever any step failed (Airflow's own "watcher" pattern). Skipped when nothing failed."""
        raise AirflowFailException("A step of this run failed; see the failed task's log (the gate says what).")

    organisations = list_xero_organisations()
    xero = extract_xero.expand(organisation=organisations)
    hubspot = extract_hubspot()
    load, build, gate = load_raw(), build_warehouse(), check_data_health()
    train, score = train_risk_models(), score_open_invoices()
    queue = build_action_queue()
    drafts = draft_reminders()
    email = email_action_queue()
    [xero, hubspot] >> load >> build >> gate >> train >> score >> queue >> drafts >> email
    [organisations, xero, hubspot, load, build, gate, train, score, queue, email, drafts] >> fail_run_if_a_step_failed()


ar_radar_daily()
