"""Xero OAuth2 tokens: rotating refresh tokens kept safe across tasks and runs.

Xero refresh tokens rotate on every use (the old one dies after a short grace period). Lose the
new one, or let two tasks refresh at once, and the connection ends in ``invalid_grant``. So:

* tokens live in a token store file (``extra.token_store``, mode 600), never in logs;
* a refresh happens under an exclusive file lock, re-reading the store first (another task may
  have refreshed already), and the new token is written atomically *before* it is used;
* ``invalid_grant`` becomes :class:`XeroReconnectRequired`, whose message tells the owners what
  to do, and never contains a token.

Custom Connections (``grant_type`` ``client_credentials``) get a fresh access token the same way.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from xero_python.api_client import ApiClient
from xero_python.api_client.oauth2 import TokenApi
from xero_python.exceptions import HTTPStatusException

from ar_radar.extract.connections import ApiConnection, ConnectionConfigError

XERO_TOKEN_URL = "https://identity.xero.com/connect/token"
EXPIRY_MARGIN = 120  # refresh this many seconds before the access token expires


class XeroAuthError(RuntimeError):
    """Xero refused the app's credentials."""


class XeroReconnectRequired(XeroAuthError):
    """The refresh token is no longer valid: a person must reconnect Xero."""


class TokenStore:
    """The current token of one Xero connection, shared by every task that uses it."""

    def __init__(self, conn: ApiConnection, api_client: ApiClient, path: Path) -> None:
        self.conn = conn
        self.api_client = api_client
        self.path = path
        self.grant = conn.extra.get("grant_type", "client_credentials")
        if self.grant not in ("client_credentials", "refresh_token"):
            raise ConnectionConfigError(
                f"Airflow connection '{conn.conn_id}': grant_type must be 'client_credentials' (Custom "
                "Connection) or 'refresh_token' (OAuth2 app with extra.refresh_token)."
            )
        if not conn.login or not conn.password:
            raise ConnectionConfigError(
                f"Airflow connection '{conn.conn_id}' needs the Xero app's client id as login and its "
                "client secret as password."
            )
        self.refreshes = 0

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None

    def _save(self, token: dict) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(token, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)

    def access_token(self, stale: str | None = None) -> str:
        """A valid access token. ``stale``: a token the API just rejected, to force a refresh."""
        with self._locked():
            token = self._load()
            fresh = (
                token is not None
                and token.get("access_token") != stale
                and token.get("expires_at", 0) > time.time() + EXPIRY_MARGIN
            )
            if fresh:
                return token["access_token"]
            token = self._refresh(token)
            self._save(token)  # persisted before anyone uses it
            return token["access_token"]

    def _refresh(self, current: dict | None) -> dict:
        token_api = TokenApi(self.api_client, self.conn.login, self.conn.password)
        url = self.conn.extra.get("token_url", XERO_TOKEN_URL)
        token_api.client_credentials_token_url = token_api.refresh_token_url = url
        try:
            if self.grant == "client_credentials":
                new = token_api.get_client_credentials_token(app_store_billing=False)
            else:
                refresh_token = (current or {}).get("refresh_token") or self.conn.extra.get("refresh_token")
                if not refresh_token:
                    raise ConnectionConfigError(
                        f"Airflow connection '{self.conn.conn_id}' uses grant_type refresh_token but has no "
                        "extra.refresh_token and its token store is empty: connect Xero once to get one."
                    )
                scope = (current or {}).get("scope") or self.conn.extra.get("scope", "offline_access")
                new = token_api.refresh_token(refresh_token, scope.split() if isinstance(scope, str) else scope)
        except HTTPStatusException as exc:
            raise self._translate(exc) from None
        self.refreshes += 1
        new["expires_at"] = time.time() + float(new.get("expires_in", 1800))
        if isinstance(new.get("scope"), list):
            new["scope"] = " ".join(new["scope"])
        return new

    def _translate(self, exc: HTTPStatusException) -> XeroAuthError:
        try:
            error = json.loads(exc.body or b"{}").get("error", "")
        except ValueError:
            error = ""
        if error == "invalid_grant":
            return XeroReconnectRequired(
                f"Xero no longer accepts the refresh token of connection '{self.conn.conn_id}' (invalid_grant). "
                "Reconnect Xero: sign in to AR Radar's Xero app again and save the new refresh token in the "
                "connection (extra.refresh_token), then delete the token store file "
                f"{self.path.name}. Extraction for every organisation of this connection has stopped."
            )
        return XeroAuthError(
            f"Xero refused the credentials of connection '{self.conn.conn_id}' (HTTP {exc.status} {error}). "
            "Check the client id and secret in Xero's developer portal."
        )
