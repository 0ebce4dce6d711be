"""A reviewer answering the day's approval through Airflow's own HITL REST API (the demo's and the tests').

It is what a finance reviewer's script would do against the api-server: log in (``POST /auth/token``), find the
waiting ``approve_reminders`` request (``GET /api/v2/dags/ar_radar_daily/dagRuns/~/hitlDetails``), answer it
(``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/approve_reminders/-1/hitlDetails``). Here the
api-server app runs in this process (FastAPI's TestClient on ``airflow.api_fastapi.app.create_app()``) over the
same metadata database as the ``airflow dags test`` run, so no server or port is needed.

    python -m ar_radar.local.reviewer answer --send [--exclude "3, 7"] | --none      (env: the run's Airflow env)
    python -m ar_radar.local.reviewer sweep-timeouts   (the scheduler's own sweep: a timed-out request -> defaults)
    python -m ar_radar.local.reviewer wait             (print the waiting request as the reviewer sees it, JSON)
"""

from __future__ import annotations

import argparse
import json
import sys
import time

DAG_ID, TASK_ID = "ar_radar_daily", "approve_reminders"
REVIEWER = "demo_reviewer"


def _client():  # noqa: ANN202 - fastapi.testclient.TestClient, imported with Airflow's config in place
    from airflow.api_fastapi.app import create_app
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from fastapi.testclient import TestClient

    client = TestClient(create_app())
    with open(SimpleAuthManager.get_generated_password_file()) as passwords:
        password = json.load(passwords)[REVIEWER]
    token = client.post("/auth/token", json={"username": REVIEWER, "password": password})
    token.raise_for_status()
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return client


def _parked_requests(client: object) -> list[dict]:
    """The unanswered approval requests whose task is parked in awaiting_input. Only those: Airflow records an answer
    given while the task is still pausing (state running) but resumes only a task in awaiting_input, so that run
    would wait for ever (seen in `make demo`); the scheduler's timeout sweep, too, handles only parked tasks."""
    listed = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/~/hitlDetails", params={"response_received": False})
    listed.raise_for_status()
    return [
        d
        for d in listed.json()["hitl_details"]
        if d["task_instance"]["task_id"] == TASK_ID and d["task_instance"]["state"] == "awaiting_input"
    ]


def waiting_request(client: object, wait_seconds: float = 600) -> dict:
    """The run's approval request once it is waiting for an answer (its HITL detail: subject, body, options)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        waiting = _parked_requests(client)
        if waiting:
            # The newest: an older run killed while it waited (a stopped demo) leaves its request unanswered.
            return max(waiting, key=lambda d: str(d.get("created_at") or d["task_instance"].get("start_date") or ""))
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {TASK_ID} request appeared within {wait_seconds:.0f} s")
        time.sleep(1)


def answer(send: bool, exclude: str = "", wait_seconds: float = 600) -> dict:
    """Wait for the approval request, then answer it; returns Airflow's answer (the updated HITL detail)."""
    client = _client()
    run_id = waiting_request(client, wait_seconds)["task_instance"]["dag_run_id"]
    body = {
        "chosen_options": ["Send the approved drafts" if send else "Send none"],
        "params_input": {"exclude": exclude},
    }
    url = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}/-1/hitlDetails"
    answered = client.patch(url, json=body)
    answered.raise_for_status()
    return answered.json()


def sweep_timeouts(wait_seconds: float = 300) -> None:
    """Wait for the approval request, then run the scheduler's own AWAITING_INPUT timeout sweep until it has
    resolved it (a run under ``dags test`` has no scheduler to do so)."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    client, runner = _client(), SchedulerJobRunner(job=Job())
    deadline, seen = time.monotonic() + wait_seconds, False
    while time.monotonic() < deadline:
        waiting = _parked_requests(client)
        if seen and not waiting:
            return
        if waiting:
            seen = True
            runner.check_awaiting_input_timeouts()
        time.sleep(1)
    raise TimeoutError("the approval request was not resolved by the timeout sweep")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m ar_radar.local.reviewer")
    commands = parser.add_subparsers(dest="command", required=True)
    reply = commands.add_parser("answer")
    choice = reply.add_mutually_exclusive_group(required=True)
    choice.add_argument("--send", action="store_true")
    choice.add_argument("--none", action="store_true")
    reply.add_argument("--exclude", default="")
    reply.add_argument("--wait", type=float, default=600, help="seconds to wait for the request (exit 3 if none)")
    commands.add_parser("sweep-timeouts")
    show = commands.add_parser("wait", help="wait for the request and print it as the reviewer sees it (JSON)")
    show.add_argument("--wait", type=float, default=600)
    args = parser.parse_args()
    if args.command == "wait":
        try:
            request = waiting_request(_client(), args.wait)
        except TimeoutError as exc:
            print(exc, file=sys.stderr)
            sys.exit(3)
        print(json.dumps({k: request.get(k) for k in ("subject", "body", "options", "defaults")}))
    elif args.command == "answer":
        try:
            detail = answer(args.send, args.exclude, args.wait)
        except TimeoutError as exc:
            print(exc, file=sys.stderr)
            sys.exit(3)
        print(json.dumps({"chosen_options": detail.get("chosen_options"), "responded_by": detail.get("responded_by")}))
    else:
        sweep_timeouts()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
