"""Source and SMTP connection settings, read from Airflow connections.

Inside Airflow tasks connections come from Airflow (its database, secrets backend or
``AIRFLOW_CONN_*``). Outside Airflow (the CLI) they come from ``AIRFLOW_CONN_<ID>`` in JSON form.
Either way the pipeline sees an :class:`ApiConnection`, whose ``repr`` never shows the secret.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any


class ConnectionConfigError(RuntimeError):
    """A connection is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class ApiConnection:
    conn_id: str
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def require_extra(self, key: str) -> str:
        value = self.extra.get(key)
        if not value:
            raise ConnectionConfigError(
                f"Airflow connection '{self.conn_id}' has no '{key}' in its extra; add it "
                f"(see README, section Connections)."
            )
        return str(value)


def connection_from_env(conn_id: str) -> ApiConnection:
    """Read ``AIRFLOW_CONN_<CONN_ID>`` (JSON form) from the environment."""
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    raw = os.environ.get(name)
    if not raw:
        raise ConnectionConfigError(
            f"Connection '{conn_id}' is not configured: set {name} to a JSON object "
            '{"conn_type": "http", "login": ..., "password": ..., "extra": {...}} (see README).'
        )
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        # Never echo the value: it holds credentials.
        raise ConnectionConfigError(
            f"{name} is not valid JSON (error at position {exc.pos}); use the JSON form described in the README."
        ) from None
    extra = data.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    return ApiConnection(
        conn_id=conn_id, login=data.get("login"), password=data.get("password"), host=data.get("host"), extra=extra
    )


def connection_from_airflow(conn_id: str) -> ApiConnection:
    """Resolve a connection through Airflow (only call inside an Airflow task)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    return ApiConnection(
        conn_id=conn_id, login=conn.login, password=conn.password, host=conn.host, extra=conn.extra_dejson
    )
