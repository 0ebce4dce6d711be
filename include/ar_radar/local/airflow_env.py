"""The environment for running Airflow locally (demo and tests): SQLite metadata, repo DAGs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ar_radar.settings import Settings


def airflow_environment(settings: Settings, airflow_home: Path, connections: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(settings.home / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.home / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AR_RADAR_HOME": str(settings.home),
            "AR_RADAR_DATA_DIR": str(settings.data_dir),
            "AR_RADAR_DB": str(settings.db_path),
            "AR_RADAR_FINANCE_RECIPIENTS": ",".join(settings.finance_recipients),
            "AR_RADAR_OWNER_RECIPIENTS": ",".join(settings.owner_recipients),
            "AR_RADAR_EMAIL_FROM": settings.email_from,
            "AR_RADAR_REMINDER_FROM": settings.reminder_from,
            "AR_RADAR_REMINDER_REPLY_TO": settings.reminder_reply_to,
            "GX_ANALYTICS_ENABLED": "False",
            # The reviewer who answers approvals through the REST API (ar_radar.local.reviewer); Airflow's simple
            # auth manager writes its password to $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated.
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "demo_reviewer:admin",
            "AIRFLOW__API__BASE_URL": "http://localhost:8080",
            "DO_NOT_TRACK": "1",
        }
    )
    env.setdefault("AR_RADAR_RETRY_DELAY_SECONDS", "1")  # local runs: fail fast, retry fast
    env.update(connections)
    return env


def airflow_background(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    """Start the ``airflow`` CLI without waiting (a DAG run that will wait for an approval), its output to ``log``
    (a pipe nobody reads until the end would fill and stall the run)."""
    airflow = Path(sys.executable).with_name("airflow")
    with open(log, "w", encoding="utf-8") as out:
        return subprocess.Popen([str(airflow), *args], env=env, stdout=out, stderr=subprocess.STDOUT, text=True)


def reviewer(env: dict[str, str], *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Answer the run's approval through Airflow's REST API, in a process with the run's Airflow environment."""
    return subprocess.run(
        [sys.executable, "-m", "ar_radar.local.reviewer", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def airflow_cli(env: dict[str, str], *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the ``airflow`` CLI of this interpreter's environment."""
    airflow = Path(sys.executable).with_name("airflow")
    return subprocess.run([str(airflow), *args], env=env, capture_output=True, text=True, timeout=timeout)
