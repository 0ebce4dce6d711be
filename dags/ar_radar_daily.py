"""AR Radar daily pipeline. Logic lives in the ``ar_radar`` package; this file only wires tasks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from ar_radar.pipeline.pools import WAREHOUSE_POOL, XERO_POOL
from ar_radar.pipeline.shards import Shard

DOC = """
### AR Radar daily

Extract Xero (one mapped task per organisation) and HubSpot, in parallel, to landing files
-> load raw into DuckDB -> `dbt build` -> Great Expectations data-health gate -> weekly retrain of
each organisation's risk model -> score open invoices -> action queue JSON (one row per customer) -> one reminder
draft per customer who needs one, and their review page -> email to finance linking each draft and the approval
-> `approve_reminders` (Airflow's human-in-the-loop: send the batch, some of it or none; no answer sends none)
-> `send_reminders` (each approved email after a last-moment check against Xero and HubSpot, never twice).
`send_auto_reminders` sends, with the same checks, the drafts the auto-send rule lets through without approval
(first light reminders of low-risk customers under `AR_RADAR_AUTO_SEND_UNDER`; off by default).
When the gate finds a critical problem it emails the owners one data-health alert and fails;
training, scoring, the queue and its email are skipped.
`fail_run_if_a_step_failed` keeps the run red when any step failed.
`publish_marts` writes the marts and scores as Parquet for the practice's overview across shards.
The build is incremental; trigger a run with `{"full_refresh": true}` to rebuild the warehouse in full.
With `AR_RADAR_SHARDS` above 1 there is one such DAG per shard (`ar_radar_daily_shard_<n>`), each with its own
organisations, DuckDB file and folders. Pools: `ar_radar_xero_api`, `ar_radar_warehouse` (`create-pools`).
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


def _schedule() -> str | None:
    """``AR_RADAR_DAILY_SCHEDULE``: a cron expression (default 06:00 every day), or ``none`` to run only when
    triggered (from outside, or a test that triggers each day itself)."""
    value = os.environ.get("AR_RADAR_DAILY_SCHEDULE", "").strip() or "0 6 * * *"
    return None if value.lower() == "none" else value


def daily_dag(shard: Shard):  # noqa: ANN201, C901 - one task per step, wired at the end
    """The daily DAG of one shard: with one shard (the default) ``ar_radar_daily`` over every organisation."""

    def _settings():  # noqa: ANN202 - imported lazily to keep DAG parsing fast
        from ar_radar.settings import Settings

        return shard.settings(Settings.from_env())

    @dag(
        dag_id=shard.dag_id,
        schedule=_schedule(),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,  # DuckDB has one writer
        default_args={
            "retries": 2,
            "retry_delay": timedelta(seconds=int(os.environ.get("AR_RADAR_RETRY_DELAY_SECONDS", "120"))),
            "retry_exponential_backoff": True,
        },
        tags=["ar-radar", "xero", "hubspot", "daily", *([shard.name] if shard.count > 1 else [])],
        doc_md=DOC,
        # A triggered run can ask for the full rebuild (Trigger DAG's form, or --conf): it runs where the daily
        # build does, in the warehouse pool and between the load and the gate, never beside another writer.
        params={
            "full_refresh": Param(
                False,
                type="boolean",
                title="Rebuild the warehouse in full",
                description="Parse every raw version again and rebuild every table (weekly, or after a fix); "
                "off: the daily incremental build.",
            )
        },
    )
    def ar_radar_daily():  # noqa: ANN201
        @task
        def list_xero_organisations() -> list[list[dict]]:
            """This shard's organisations, one per batch (several per batch beyond Airflow's max_map_length).
            A shard that owns none skips its run."""
            from airflow.configuration import conf
            from ar_radar.extract.connections import connection_from_airflow
            from ar_radar.pipeline import daily

            settings = _settings()
            with _xero_failures(settings):
                owned = daily.list_xero_organisations(connection_from_airflow(settings.xero_conn_id), settings)
            if not owned:
                raise AirflowSkipException(f"{shard.name} of {shard.count} owns none of the Xero organisations.")
            return daily.organisation_batches(owned, conf.getint("core", "max_map_length", fallback=1024))

        @task(map_index_template="{{ organisation_names }}", pool=XERO_POOL)
        def extract_xero(organisations: list[dict]) -> dict:
            """One mapped task per Xero organisation (or batch): limits and failures stay per organisation."""
            from ar_radar.extract.connections import connection_from_airflow
            from ar_radar.pipeline import daily

            names = ", ".join(o.get("tenant_name") or o["tenant_id"] for o in organisations)
            get_current_context()["organisation_names"] = names[:240]
            settings = _settings()
            conn = connection_from_airflow(settings.xero_conn_id)
            with _xero_failures(settings):
                return daily.extract_xero(conn, settings, _run()[0], organisations)

        @task
        def extract_hubspot() -> list[dict]:
            from ar_radar.extract.connections import connection_from_airflow
            from ar_radar.pipeline import daily

            settings = _settings()
            return daily.extract_hubspot(connection_from_airflow(settings.hubspot_conn_id), settings, _run()[0])

        @task(trigger_rule="none_failed_min_one_success", pool=WAREHOUSE_POOL)
        def load_raw() -> dict:
            from ar_radar.pipeline import daily

            return daily.load_raw(_settings())

        @task(pool=WAREHOUSE_POOL)
        def build_warehouse() -> dict:
            from ar_radar.pipeline import daily

            full_refresh = get_current_context()["params"]["full_refresh"]
            return daily.build_warehouse(_settings(), _run()[1], full_refresh=full_refresh)

        @task(pool=WAREHOUSE_POOL)
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
        @task(trigger_rule="all_done", pool=WAREHOUSE_POOL)
        def train_risk_models() -> list[dict]:
            """Weekly: a model per organisation with enough history, kept with its backtest metrics."""
            from ar_radar.gate.report import GateNotPassed
            from ar_radar.pipeline import daily

            try:
                return daily.train_risk_models(_settings(), *_run())
            except GateNotPassed as exc:
                raise AirflowSkipException(str(exc)) from None

        # all_done: a failed retrain does not stop the day's queue (the models in use stay); a failed gate does.
        @task(trigger_rule="all_done", pool=WAREHOUSE_POOL)
        def score_open_invoices() -> dict:
            from ar_radar.gate.report import GateNotPassed
            from ar_radar.pipeline import daily

            try:
                return daily.score_open_invoices(_settings(), *_run())
            except GateNotPassed as exc:
                raise AirflowSkipException(str(exc)) from None

        @task
        def publish_marts() -> dict:
            """The marts and today's scores as Parquet, for the practice's overview across shards."""
            from ar_radar.pipeline import daily

            return daily.publish_marts(_settings(), *_run())

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

        @task.short_circuit(ignore_downstream_trigger_rules=False)
        def any_reminders_to_approve(drafted: dict) -> bool:
            """Ask for an approval only when there is a customer email to approve."""
            return bool(drafted and drafted.get("to_approve"))

        @task  # off by default: finance turns the auto-send rule on with AR_RADAR_AUTO_SEND_UNDER
        def send_auto_reminders(drafted: dict) -> dict:
            """First light reminders of low-risk customers under the limit, without approval, after the same checks."""
            from airflow.sdk.exceptions import AirflowNotFoundException
            from ar_radar.extract.connections import connection_from_airflow
            from ar_radar.pipeline import daily

            settings = _settings()
            if settings.auto_send_under is None or not drafted.get("auto_send"):
                raise AirflowSkipException("The auto-send rule is off or let no draft through: all wait for approval.")
            try:
                hubspot_conn = connection_from_airflow(settings.hubspot_conn_id)
            except AirflowNotFoundException:
                hubspot_conn = None
            xero_conn = connection_from_airflow(settings.xero_conn_id)
            return daily.send_auto_reminders(settings, *_run(), xero_conn, hubspot_conn)

        # Airflow's own human-in-the-loop task: the reviewer sends the batch (minus excluded draft numbers) or none,
        # in the UI (Browse -> Required Actions) or through the REST API; no answer before the timeout sends none.
        approve_reminders = HITLOperator(
            task_id="approve_reminders",
            subject="AR Radar: approve today's customer reminders ({{ ds }})"
            + (f", {shard.name} of {shard.count}" if shard.count > 1 else ""),
            body="{{ ti.xcom_pull(task_ids='draft_reminders')['approval_body'] }}",
            options=["Send the approved drafts", "Send none"],
            defaults=["Send none"],
            params={
                "exclude": Param(
                    "",
                    type="string",
                    title="Leave out drafts",
                    description="Draft numbers not to send, e.g. 3, 7 (empty: send them all)",
                )
            },
            response_timeout=timedelta(hours=float(os.environ.get("AR_RADAR_APPROVAL_TIMEOUT_HOURS", "20"))),
        )

        @task  # retried like every task: the send keys in outreach.reminder_log stop a second email
        def send_reminders() -> dict:
            """Each approved reminder after a last-moment check against Xero and HubSpot; never twice."""
            from airflow.sdk.exceptions import AirflowNotFoundException
            from ar_radar.extract.connections import connection_from_airflow
            from ar_radar.pipeline import daily

            settings = _settings()
            context = get_current_context()
            approval = context["ti"].xcom_pull(task_ids="approve_reminders")
            try:
                hubspot_conn = connection_from_airflow(settings.hubspot_conn_id)
            except AirflowNotFoundException:
                hubspot_conn = None
            xero_conn = connection_from_airflow(settings.xero_conn_id)
            return daily.send_reminders(settings, *_run(), approval, xero_conn, hubspot_conn)

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
            from airflow.configuration import conf

            run_id = _run()[0]
            base = conf.get("api", "base_url", fallback="http://localhost:8080").rstrip("/")
            approval_url = f"{base}/dags/{shard.dag_id}/runs/{run_id}/tasks/approve_reminders/required_actions"
            return daily.email_action_queue(settings, str(queue_path), approval_url)

        @task(trigger_rule="one_failed", retries=0)
        def fail_run_if_a_step_failed() -> None:
            """Airflow judges a run by its last tasks, which are skipped after a failed gate: this keeps the run
            red whenever any step failed (Airflow's own "watcher" pattern). Skipped when nothing failed."""
            raise AirflowFailException("A step of this run failed; see the failed task's log (the gate says what).")

        organisations = list_xero_organisations()
        xero = extract_xero.expand(organisations=organisations)
        hubspot = extract_hubspot()
        load, build, gate = load_raw(), build_warehouse(), check_data_health()
        train, score = train_risk_models(), score_open_invoices()
        queue, publish = build_action_queue(), publish_marts()
        drafts = draft_reminders()
        email = email_action_queue()
        to_approve = any_reminders_to_approve(drafts)
        auto = send_auto_reminders(drafts)
        send = send_reminders()
        organisations >> hubspot  # a shard that owns no organisation skips everything
        [xero, hubspot] >> load >> build >> gate >> train >> score >> queue >> drafts >> email
        score >> publish
        email >> to_approve >> approve_reminders >> send
        steps = [organisations, xero, hubspot, load, build, gate, train, score, publish, queue, email, drafts]
        steps + [to_approve, approve_reminders, send, auto] >> fail_run_if_a_step_failed()

    return ar_radar_daily()


for _shard in Shard.all_from_env():
    globals()[_shard.dag_id] = daily_dag(_shard)
