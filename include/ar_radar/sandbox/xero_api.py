"""A local HTTP server that speaks the Xero Accounting API's wire format over demo organisations.

Implemented: the identity token endpoint (client_credentials grant), ``GET /connections``, and
the AR list endpoints with ``page``/``pageSize`` paging and a ``pagination`` object,
``If-Modified-Since``, ``order=UpdatedDateUTC ASC``, ``Statuses`` and simple ``where`` clauses
(``Field=="value"`` joined by ``AND``). Responses carry the rate-limit headers Xero sends.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import uuid
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from flask import Flask, Response, request

from ar_radar.sandbox.demo_company import DemoCompany
from ar_radar.sandbox.wire import dumps, to_xero_json, xero_date

# endpoint path -> (collection key in the response, attribute on DemoCompany)
ENDPOINTS = {
    "Invoices": ("Invoices", "invoices"),
    "CreditNotes": ("CreditNotes", "credit_notes"),
    "Payments": ("Payments", "payments"),
    "Overpayments": ("Overpayments", "overpayments"),
    "Prepayments": ("Prepayments", "prepayments"),
    "Contacts": ("Contacts", "contacts"),
}
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
_WHERE_TERM = re.compile(r'^\s*(\w+)\s*==\s*"([^"]*)"\s*$')


def _error(status: int, title: str, detail: str) -> Response:
    body = {"Type": None, "Title": title, "Status": status, "Detail": detail, "Instance": str(uuid.uuid4())}
    return Response(dumps(body), status=status, mimetype="application/json")


def _parse_if_modified_since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = parsedate_to_datetime(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _matches_where(record: dict, where: str) -> bool:
    for term in re.split(r"\s+AND\s+", where, flags=re.IGNORECASE):
        match = _WHERE_TERM.match(term)
        if not match:
            raise ValueError(f"unsupported where clause: {term!r}")
        key, expected = match.groups()
        if str(record.get(key, "")) != expected:
            return False
    return True


def create_xero_app(companies: list[DemoCompany], client_id: str, client_secret: str) -> Flask:
    """Build the Flask app serving ``companies`` (one Xero organisation each)."""
    app = Flask("xero_sandbox")
    by_tenant = {c.tenant_id: c for c in companies}
    tokens: set[str] = set()
    lock = threading.Lock()
    calls = {"count": 0}
    app.config["calls"] = calls
    app.config["issued_tokens"] = tokens  # tests check that none of these ever leaks

    @app.post("/connect/token")
    def token() -> Response:
        form = request.form
        cid, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            cid, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials":
            return Response(dumps({"error": "unsupported_grant_type"}), 400, mimetype="application/json")
        if cid != client_id or secret != client_secret:
            return Response(dumps({"error": "invalid_client"}), 400, mimetype="application/json")
        access = secrets.token_urlsafe(32)
        with lock:
            tokens.add(access)
        return Response(
            dumps(
                {
                    "access_token": access,
                    "expires_in": 1800,
                    "token_type": "Bearer",
                    "scope": "accounting.transactions.read accounting.contacts.read",
                }
            ),
            mimetype="application/json",
        )

    def authorised() -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in tokens

    @app.get("/connections")
    @app.get("/Connections")  # xero-python asks for this spelling; Xero ignores case
    def connections() -> Response:
        if not authorised():
            return _error(401, "Unauthorized", "AuthenticationUnsuccessful")
        # The identity API uses ISO timestamps, unlike the accounting API's /Date(...)/.
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        return Response(
            dumps(
                [
                    {
                        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, c.tenant_id)),
                        "authEventId": str(uuid.uuid4()),
                        "tenantId": c.tenant_id,
                        "tenantType": "ORGANISATION",
                        "tenantName": c.name,
                        "createdDateUtc": now,
                        "updatedDateUtc": now,
                    }
                    for c in companies
                ]
            ),
            mimetype="application/json",
        )

    @app.get("/api.xro/2.0/<endpoint>")
    def collection(endpoint: str) -> Response:
        with lock:
            calls["count"] += 1
        if endpoint not in ENDPOINTS:
            return _error(404, "Not Found", f"The resource {endpoint} was not found")
        if not authorised():
            return _error(401, "Unauthorized", "AuthenticationUnsuccessful")
        company = by_tenant.get(request.headers.get("xero-tenant-id", ""))
        if company is None:
            return _error(403, "Forbidden", "AuthenticationUnsuccessful: tenant not connected")
        key, attribute = ENDPOINTS[endpoint]
        records = list(getattr(company, attribute))
        try:
            if since := request.headers.get("If-Modified-Since"):
                threshold = _parse_if_modified_since(since)
                records = [r for r in records if r["UpdatedDateUTC"] > threshold]
            if where := request.args.get("where"):
                records = [r for r in records if _matches_where(r, where)]
        except ValueError as exc:
            return _error(400, "Validation error", str(exc))
        if statuses := request.args.get("Statuses"):
            wanted = set(statuses.split(","))
            records = [r for r in records if r.get("Status") in wanted]
        if (request.args.get("order") or "").replace(" ", "").lower().startswith("updateddateutc"):
            records.sort(
                key=lambda r: r["UpdatedDateUTC"], reverse=request.args["order"].strip().upper().endswith("DESC")
            )
        body: dict = {
            "Id": str(uuid.uuid4()),
            "Status": "OK",
            "ProviderName": "AR Radar sandbox",
            "DateTimeUTC": xero_date(datetime.now(UTC)),
        }
        if "page" in request.args:
            page = max(1, int(request.args["page"]))
            size = int(request.args.get("pageSize", DEFAULT_PAGE_SIZE))
            if size > MAX_PAGE_SIZE or size < 1:
                return _error(400, "Validation error", f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
            count = len(records)
            body["pagination"] = {
                "page": page,
                "pageSize": size,
                "pageCount": max(1, -(-count // size)),
                "itemCount": count,
            }
            records = records[(page - 1) * size : page * size]
        body[key] = [to_xero_json(r) for r in records]
        response = Response(dumps(body), mimetype="application/json")
        response.headers["X-MinLimit-Remaining"] = "59"
        response.headers["X-DayLimit-Remaining"] = str(max(0, 5000 - calls["count"]))
        response.headers["X-AppMinLimit-Remaining"] = "9999"
        return response

    return app
