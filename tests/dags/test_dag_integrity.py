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
    assert dag.get_task("list_xero_organisations").downstream_task_ids == {"extract_xero", watcher.task_id}


def test_weekly_dag_shape(dagbag):
    dag = dagbag.dags["ar_radar_weekly"]
    assert dag.catchup is False and dag.max_active_runs == 1 and dag.doc_md
    assert dag.timetable.summary == "0 7 * * 1"  # Monday morning
    assert set(dag.task_ids) == {"send_weekly_reports"}
