"""Extract Xero accounts-receivable records through the official xero-python SDK.

Every organisation the credentials can reach (``GET /connections``) is extracted; each record
is landed with its full JSON as Xero sent it (the SDK's models drop unknown fields, so we read
raw responses with ``_preload_content=False``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import certifi
from xero_python.accounting import AccountingApi
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import HTTPStatusException
from xero_python.identity import IdentityApi

from ar_radar.connections import ApiConnection, ConnectionConfigError
from ar_radar.extract.http_retry import pool_manager
from ar_radar.landing import LandingBatch, write_batch

log = logging.getLogger(__name__)

XERO_API_URL = "https://api.xero.com/api.xro/2.0"
XERO_IDENTITY_URL = "https://api.xero.com"
XERO_TOKEN_URL = "https://identity.xero.com/connect/token"
PAGE_SIZE = 1000


@dataclass(frozen=True)
class XeroStream:
    entity: str
    method: str
    collection: str
    id_field: str
    where: str | None


STREAMS = (
    XeroStream("invoices", "get_invoices", "Invoices", "InvoiceID", 'Type=="ACCREC"'),
    XeroStream("credit_notes", "get_credit_notes", "CreditNotes", "CreditNoteID", 'Type=="ACCRECCREDIT"'),
    XeroStream("payments", "get_payments", "Payments", "PaymentID", 'PaymentType=="ACCRECPAYMENT"'),
    XeroStream("overpayments", "get_overpayments", "Overpayments", "OverpaymentID", 'Type=="RECEIVE-OVERPAYMENT"'),
    XeroStream("prepayments", "get_prepayments", "Prepayments", "PrepaymentID", 'Type=="RECEIVE-PREPAYMENT"'),
    XeroStream("contacts", "get_contacts", "Contacts", "ContactID", None),
)


class XeroExtractError(RuntimeError):
    """Extraction failed; the message names the organisation, stream and what to do."""


@dataclass
class XeroSession:
    accounting: AccountingApi
    identity: IdentityApi


def connect(conn: ApiConnection) -> XeroSession:
    """Authenticate with the connection's credentials and return SDK clients."""
    if not conn.login or not conn.password:
        raise ConnectionConfigError(
            f"Airflow connection '{conn.conn_id}' needs the Xero app's client id as login and its "
            "client secret as password."
        )
    grant = conn.extra.get("grant_type", "client_credentials")
    if grant != "client_credentials":
        raise ConnectionConfigError(
            f"Airflow connection '{conn.conn_id}': grant_type {grant!r} is not supported yet; "
            "use a Xero Custom Connection (grant_type client_credentials)."
        )
    token_store: dict = {}
    config = Configuration(oauth2_token=OAuth2Token(client_id=conn.login, client_secret=conn.password))
    api_client = ApiClient(config, oauth2_token_getter=lambda: token_store, oauth2_token_saver=token_store.update)
    api_client.rest_client.pool_manager = pool_manager(ca_certs=certifi.where())
    token_api = TokenApi(api_client, conn.login, conn.password)
    token_api.client_credentials_token_url = conn.extra.get("token_url", XERO_TOKEN_URL)
    try:
        token = token_api.get_client_credentials_token(app_store_billing=False)
    except Exception as exc:  # the SDK raises a bare Exception carrying the response
        status = getattr(getattr(exc, "http_resp", None), "status", None) or "error"
        raise XeroExtractError(
            f"Xero refused the client credentials of connection '{conn.conn_id}' ({status}). "
            "Check the client id and secret of the Custom Connection in Xero's developer portal."
        ) from None
    token["scope"] = str(token.get("scope", "")).split()
    token["expires_at"] = time.time() + float(token.get("expires_in", 1800))
    token_store.update(token)
    return XeroSession(
        accounting=AccountingApi(api_client, base_url=conn.extra.get("api_url", XERO_API_URL)),
        identity=IdentityApi(api_client, base_url=conn.extra.get("identity_url", XERO_IDENTITY_URL)),
    )


def list_tenants(session: XeroSession, conn: ApiConnection) -> list[dict]:
    """Every organisation the token reaches, optionally narrowed by ``extra.tenant_ids``."""
    connections = session.identity.get_connections()
    tenants = [
        {"tenant_id": str(c.tenant_id), "tenant_name": c.tenant_name}
        for c in connections
        if (c.tenant_type or "ORGANISATION") == "ORGANISATION"
    ]
    wanted = conn.extra.get("tenant_ids")
    if wanted:
        tenants = [t for t in tenants if t["tenant_id"] in set(wanted)]
    if not tenants:
        raise XeroExtractError(
            f"Connection '{conn.conn_id}' reaches no Xero organisation; connect one in Xero (or fix extra.tenant_ids)."
        )
    return tenants


def fetch_stream(session: XeroSession, tenant_id: str, stream: XeroStream) -> list[dict]:
    """All records of one stream for one organisation, page by page until the last page."""
    method = getattr(session.accounting, stream.method)
    kwargs = {"order": "UpdatedDateUTC ASC", "page_size": PAGE_SIZE}
    if stream.where:
        kwargs["where"] = stream.where
    records: list[dict] = []
    page = 1
    while True:
        try:
            response = method(tenant_id, page=page, _preload_content=False, **kwargs)
        except HTTPStatusException as exc:
            raise XeroExtractError(
                f"Xero {stream.collection} page {page} for organisation {tenant_id} failed with HTTP "
                f"{exc.status} {exc.reason}. Re-run the extract task; if it persists check the "
                "connection's api_url and the app's scopes."
            ) from None
        body = json.loads(response.data)
        records.extend(body.get(stream.collection, []))
        pagination = body.get("pagination") or {}
        if page >= int(pagination.get("pageCount") or 1):
            return records
        page += 1


def extract_xero(conn: ApiConnection, landing_root: Path, run_id: str) -> list[LandingBatch]:
    """Extract every AR stream of every organisation into the landing zone."""
    session = connect(conn)
    batches: list[LandingBatch] = []
    for tenant in list_tenants(session, conn):
        for stream in STREAMS:
            records = fetch_stream(session, tenant["tenant_id"], stream)
            batch = write_batch(
                landing_root,
                run_id,
                "xero",
                stream.entity,
                tenant["tenant_id"],
                ((r.get(stream.id_field), r.get("UpdatedDateUTC"), r) for r in records),
            )
            log.info(
                "xero %s: %d records for organisation %s (%s)",
                stream.entity,
                batch.records,
                tenant["tenant_name"],
                tenant["tenant_id"],
            )
            batches.append(batch)
    return batches
