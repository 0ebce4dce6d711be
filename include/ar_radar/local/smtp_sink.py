"""A local SMTP server (aiosmtpd) that keeps every message it receives, as ``.eml`` files and in memory."""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    message: EmailMessage
    path: Path | None


@dataclass
class EmlWriter:
    """aiosmtpd handler: writes each message to ``folder/<time>-<n>.eml`` and remembers it."""

    folder: Path | None = None
    received: list[Received] = field(default_factory=list)
    refuse_next: int = 0  # the next N messages get a temporary failure (451), as a busy mail server answers
    delay_seconds: float = 0.0  # a slow server: each message is kept, then acknowledged this much later
    _counter: itertools.count = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        with self._lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return "451 4.3.0 Temporary failure, try again later"
        raw: bytes = envelope.original_content or envelope.content
        path = None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            path = self.folder / f"{stamp}-{next(self._counter):03d}.eml"
            path.write_bytes(raw)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, path))
        if self.delay_seconds:
            # kept before the sender hears so: a sender that dies meanwhile must never send it again
            await asyncio.sleep(self.delay_seconds)
        return "250 Message accepted for delivery"


class SmtpSink:
    """Run an :class:`EmlWriter` on ``host:port`` (port 0 picks a free one) in a background thread."""

    def __init__(self, folder: Path | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection
        self.handler = EmlWriter(folder)
        if port == 0:
            import socket

            with socket.socket() as probe:
                probe.bind((host, 0))
                port = probe.getsockname()[1]
        self.controller = Controller(self.handler, hostname=host, port=port)

    @property
    def host(self) -> str:
        return self.controller.hostname

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def airflow_connection(self) -> str:
        """``AIRFLOW_CONN_SMTP_DEFAULT`` (JSON form) for this sink: plain SMTP, no TLS, no login."""
        import json

        return json.dumps(
            {
                "conn_type": "smtp",
                "host": self.host,
                "port": self.port,
                "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 10, "retry_limit": 0},
            }
        )

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
