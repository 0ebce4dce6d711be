"""Run the Xero, HubSpot and LLM sandboxes on loopback, in threads of the current process."""

from __future__ import annotations

import json
import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import date

from werkzeug.serving import BaseWSGIServer, make_server

from ar_radar.extract.rate_limit import Clock
from ar_radar.local.sandbox.demo_company import DemoCompany, generate_demo_company
from ar_radar.local.sandbox.faults import apply_fault
from ar_radar.local.sandbox.hubspot_api import HubSpotFaults, create_hubspot_app
from ar_radar.local.sandbox.llm_api import LlmFaults, create_llm_app, new_api_key
from ar_radar.local.sandbox.xero_api import XeroFaults, create_xero_app


@dataclass
class Sandbox:
    """Both sandbox servers. Use as a context manager; credentials are random per instance."""

    seed: int = 42
    as_of: date | None = None
    organisations: int = 1
    # Base currency of each generated organisation, in turn (a business with a UK and a euro entity: GBP, EUR).
    base_currencies: tuple[str, ...] = ("GBP",)
    faults: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    xero_port: int = 0
    hubspot_port: int = 0
    companies: list[DemoCompany] = field(default_factory=list)
    xero_client_id: str = field(default_factory=lambda: "sandbox-" + secrets.token_hex(8))
    xero_client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    hubspot_token: str = field(default_factory=lambda: "pat-sandbox-" + secrets.token_urlsafe(24))
    # Set to use the OAuth2 refresh-token flow (rotating tokens) instead of a Custom Connection.
    xero_refresh_token: str | None = None
    xero_faults: XeroFaults = field(default_factory=XeroFaults)
    llm_faults: LlmFaults = field(default_factory=LlmFaults)
    llm_api_key: str = field(default_factory=new_api_key)
    hubspot_faults: HubSpotFaults = field(default_factory=HubSpotFaults)
    hubspot_objects: dict[str, list[dict]] | None = None  # serve these instead of the companies' CRM
    clock: Clock = field(default_factory=Clock)
    _servers: list[BaseWSGIServer] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.as_of = self.as_of or date.today()
        if not self.companies:
            self.companies = [
                generate_demo_company(
                    seed=self.seed + i,
                    as_of=self.as_of,
                    name="Demo Widgets Ltd" if i == 0 else f"Demo Widgets {i + 1} Ltd",
                    base_currency=self.base_currencies[i % len(self.base_currencies)],
                )
                for i in range(self.organisations)
            ]
            for fault in self.faults:
                for company in self.companies:
                    apply_fault(company, fault)

    def start(self) -> Sandbox:
        # One log line per request drowns the demo's and the DAG's output; errors still show.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.xero_app = create_xero_app(
            self.companies,
            self.xero_client_id,
            self.xero_client_secret,
            self.xero_faults,
            self.clock,
            self.xero_refresh_token,
        )
        xero = make_server(self.host, self.xero_port, threaded=True, app=self.xero_app)
        self.hubspot_app = create_hubspot_app(
            self.companies, self.hubspot_token, self.hubspot_faults, self.clock, self.hubspot_objects
        )
        hubspot = make_server(self.host, self.hubspot_port, threaded=True, app=self.hubspot_app)
        self.llm_app = create_llm_app(self.llm_api_key, self.llm_faults)
        llm = make_server(self.host, 0, threaded=True, app=self.llm_app)
        self._servers = [xero, hubspot, llm]
        for server in self._servers:
            # A short poll: shutdown() waits up to one poll interval per server (0.5 s by default, 1.5 s a sandbox).
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def secrets(self) -> list[str]:
        """Every credential this sandbox issued or accepts (for leak tests)."""
        issued = sorted(self.xero_app.config["issued_tokens"]) if self._servers else []
        initial = [self.xero_refresh_token] if self.xero_refresh_token else []
        return [self.xero_client_secret, self.hubspot_token, self.llm_api_key, *initial, *issued]

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def xero_url(self) -> str:
        return f"http://{self.host}:{self._servers[0].server_port}"

    @property
    def hubspot_url(self) -> str:
        return f"http://{self.host}:{self._servers[1].server_port}"

    @property
    def llm_url(self) -> str:
        """OpenAI-compatible base URL (the client appends /chat/completions)."""
        return f"http://{self.host}:{self._servers[2].server_port}/v1"

    def llm_connection(self, model: str = "sandbox-writer-1", timeout: float = 10.0) -> dict[str, str]:
        """``AIRFLOW_CONN_OPENAI_DEFAULT`` for the sandbox LLM (kept apart from airflow_connections: without it
        AR Radar writes from its templates)."""
        conn = {
            "conn_type": "http",
            "password": self.llm_api_key,
            "extra": {"base_url": self.llm_url, "model": model, "timeout": timeout},
        }
        return {"AIRFLOW_CONN_OPENAI_DEFAULT": json.dumps(conn)}

    def airflow_connections(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` environment values (JSON form) pointing at this sandbox."""
        xero = {
            "conn_type": "http",
            "login": self.xero_client_id,
            "password": self.xero_client_secret,
            "extra": {
                "api_url": f"{self.xero_url}/api.xro/2.0",
                "identity_url": self.xero_url,
                "token_url": f"{self.xero_url}/connect/token",
                "grant_type": "refresh_token" if self.xero_refresh_token else "client_credentials",
            },
        }
        if self.xero_refresh_token:
            xero["extra"]["refresh_token"] = self.xero_refresh_token
        hubspot = {"conn_type": "http", "password": self.hubspot_token, "extra": {"host": self.hubspot_url}}
        return {"AIRFLOW_CONN_XERO_DEFAULT": json.dumps(xero), "AIRFLOW_CONN_HUBSPOT_DEFAULT": json.dumps(hubspot)}
