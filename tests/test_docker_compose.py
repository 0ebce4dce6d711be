"""docker-compose.yaml is valid against the Compose specification and runs what it claims to.

There is no Docker engine here; the file is validated by schema and its commands are checked
against what this project and Airflow actually provide.
"""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yaml"


def test_compose_file_matches_the_compose_spec():
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_airflow_services_and_connections():
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert {
        "postgres",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "redis",
        "sandbox",
        "mailpit",
    } <= set(services)
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        assert services[name]["command"] == name.removeprefix("airflow-").replace("apiserver", "api-server")
    assert services["airflow-worker"]["command"] == "celery worker"
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert (
        env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        and "redis" in services["airflow-worker"]["depends_on"]
    )
    for conn in ("XERO_DEFAULT", "HUBSPOT_DEFAULT", "SMTP_DEFAULT"):
        assert f"AIRFLOW_CONN_{conn}" in env
    mounts = {v.split(":")[1] for v in services["airflow-scheduler"]["volumes"] if v.startswith("./")}
    assert {"/opt/airflow/dags", "/opt/airflow/dbt_project", "/opt/airflow/expectations"} <= mounts
    for mount in mounts:
        local = mount.replace("/opt/airflow/", "")
        assert local == "data" or (ROOT / local).is_dir(), mount


def test_the_image_pins_the_same_airflow_as_requirements():
    pins = dict(
        line.split("==")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"apache/airflow:{pins['apache-airflow']}-python3.11" in dockerfile


def test_init_hands_the_mounted_folders_to_airflow_and_makes_the_pools():
    """Docker would create ./data as root while Airflow runs as AIRFLOW_UID; the init step fixes that (as the
    official file's does), migrates, and creates the pools the DAGs' tasks wait on."""
    from ar_radar.cli import main

    init = yaml.safe_load(COMPOSE.read_text())["services"]["airflow-init"]
    script = "\n".join(init["command"])
    assert init["user"] == "0:0"
    assert 'chown -R "${AIRFLOW_UID:-50000}:0" /opt/airflow/data' in script
    assert script.index("chown") < script.index("airflow db migrate") < script.index("create-pools")
    assert "create-pools" in main.commands
