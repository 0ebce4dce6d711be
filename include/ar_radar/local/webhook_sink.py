"""A local stand-in for Slack's incoming webhooks: accepts ``POST /services/...`` with Slack's JSON body, answers
``ok`` as Slack does, and keeps what it received (the chat tests and the demo read it)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class WebhookSink:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = make_server(self.host, self.port, self._app, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @Request.application
    def _app(self, request: Request) -> Response:
        if request.method != "POST" or not request.path.startswith("/services/"):
            return Response("no_service", status=404)
        try:
            body = json.loads(request.get_data(as_text=True))
        except ValueError:
            return Response("invalid_payload", status=400)
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return Response("no_text", status=400)
        self.received.append({"path": request.path, **body})
        return Response("ok", status=200, content_type="text/plain")

    def airflow_connection(self) -> str:
        """The Slack incoming-webhook connection, as Airflow's JSON form (the webhook URL is its secret)."""
        url = f"http://{self.host}:{self.port}/services/T000/B000/sandbox"
        return json.dumps({"conn_type": "slackwebhook", "password": url})

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
