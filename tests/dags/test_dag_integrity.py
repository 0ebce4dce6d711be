"""DagBag integrity: every DAG imports, and every task retries."""

from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "ar_radar_daily" in dagbag.dags


def test_every_task_has_retries(dagbag):
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            if task.task_id == "fail_run_if_a_step_failed":
                continue  # its job is to fail; retrying would only delay the run's red state
            assert task.retries >= 1, f"{dag.dag_id}.{task.task_id} has no retries"


def test_daily_dag_shape(dagbag):
    dag = dagbag.dags["ar_radar_daily"]
    assert dag.catchup is False and dag.max_active_runs == 1 and dag.doc_md and dag.tags
    assert dag.timetable.expression == "0 6 * * *"
    assert set(dag.task_ids) == {
        "extract_xero",
        "extract_hubspot",
        "list_xero_organisations",
        "load_raw",
        "build_warehouse",
        "check_data_health",
        "train_risk_models",
        "score_open_invoices",
        "publish_marts",
        "build_action_queue",
        "email_action_queue",
        "draft_reminders",
        "any_reminders_to_approve",
        "approve_reminders",
        "send_reminders",
        "send_auto_reminders",
        "fail_run_if_a_step_failed",
    }
    assert dag.get_task("draft_reminders").upstream_task_ids == {"build_action_queue"}
    # the finance email (with the approval link) goes before the approval; nothing is sent without one
    assert dag.get_task("email_action_queue").upstream_task_ids == {"draft_reminders"}
    approval = dag.get_task("approve_reminders")
    assert type(approval).__name__ == "HITLOperator" and approval.defaults == ["Send none"]
    assert approval.response_timeout.total_seconds() == 20 * 3600
    assert dag.get_task("send_reminders").upstream_task_ids == {"approve_reminders"}
    # the auto-send rule's drafts go straight after drafting, never waiting on (nor skipping) the approval
    assert dag.get_task("send_auto_reminders").upstream_task_ids == {"draft_reminders"}
    assert dag.get_task("send_auto_reminders").downstream_task_ids == {"fail_run_if_a_step_failed"}
    gate = dag.get_task("check_data_health")
    assert gate.downstream_task_ids == {"train_risk_models", "fail_run_if_a_step_failed"}
    # after a failed gate, training and scoring run only to skip themselves: the rest shows skipped, not
    # upstream_failed; after a failed retrain, scoring still runs with the models in use
    assert dag.get_task("train_risk_models").trigger_rule == "all_done"
    assert dag.get_task("score_open_invoices").trigger_rule == "all_done"
    assert dag.get_task("score_open_invoices").upstream_task_ids == {"train_risk_models"}
    watcher = dag.get_task("fail_run_if_a_step_failed")
    assert watcher.trigger_rule == "one_failed" and not watcher.downstream_task_ids
    assert watcher.upstream_task_ids == set(dag.task_ids) - {watcher.task_id}
    assert dag.get_task("load_raw").upstream_task_ids == {"extract_xero", "extract_hubspot"}
    assert dag.get_task("load_raw").trigger_rule == "none_failed_min_one_success"  # a day-limited org skips
    # a shard that owns no organisation skips its extracts, HubSpot's included, and so the whole run
    assert dag.get_task("list_xero_organisations").downstream_task_ids == {
        "extract_xero",
        "extract_hubspot",
        watcher.task_id,
    }
    assert dag.get_task("publish_marts").upstream_task_ids == {"score_open_invoices"}
    # what shards share is bounded by pools: Xero's per-app limit and the memory of DuckDB-heavy tasks
    assert dag.get_task("extract_xero").pool == "ar_radar_xero_api"
    heavy = {"load_raw", "build_warehouse", "check_data_health", "train_risk_models", "score_open_invoices"}
    assert {t.task_id for t in dag.tasks if t.pool == "ar_radar_warehouse"} == heavy


def test_one_dag_per_shard(monkeypatch):
    """With three shards, three daily DAGs of the same shape, each on its own files; no unsharded one."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AR_RADAR_SHARDS", "3")
    sharded = DagBag(dag_folder=str(DAGS / "ar_radar_daily.py"))
    assert sharded.import_errors == {}
    assert set(sharded.dags) == {"ar_radar_daily_shard_0", "ar_radar_daily_shard_1", "ar_radar_daily_shard_2"}
    shapes = {frozenset(d.task_ids) for d in sharded.dags.values()}
    assert len(shapes) == 1 and "publish_marts" in next(iter(shapes))
    assert all(d.max_active_runs == 1 for d in sharded.dags.values())  # one writer per shard file
    assert "shard-2" in sharded.dags["ar_radar_daily_shard_2"].tags


def test_the_weekly_report_reads_every_shard(monkeypatch):
    """One mapped report task per shard when sharded; the single unmapped task otherwise."""
    from airflow.dag_processing.dagbag import DagBag

    weekly = DAGS / "ar_radar_weekly.py"
    monkeypatch.delenv("AR_RADAR_SHARDS", raising=False)
    single = DagBag(dag_folder=str(weekly)).dags["ar_radar_weekly"].get_task("send_weekly_reports")
    monkeypatch.setenv("AR_RADAR_SHARDS", "4")
    sharded = DagBag(dag_folder=str(weekly)).dags["ar_radar_weekly"].get_task("send_weekly_reports")
    assert "Mapped" not in type(single).__name__ and "Mapped" in type(sharded).__name__
    assert sharded.op_kwargs_expand_input.value == {"shard": [0, 1, 2, 3]}


def test_weekly_dag_shape(dagbag):
    dag = dagbag.dags["ar_radar_weekly"]
    assert dag.catchup is False and dag.max_active_runs == 1 and dag.doc_md
    assert dag.timetable.summary == "0 7 * * 1"  # Monday morning
    assert set(dag.task_ids) == {"send_weekly_reports"}
