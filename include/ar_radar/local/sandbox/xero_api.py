"""A local HTTP server that speaks the Xero Accounting API's wire format over demo organisations.

Implemented: the identity token endpoint (``client_credentials`` and rotating ``refresh_token``
grants, with the 30-minute grace period for a rotated refresh token), ``GET /connections``, and the
AR list endpoints with ``page``/``pageSize`` paging and a ``pagination`` object,
``If-Modified-Since``, ``order=UpdatedDateUTC ASC``, ``Statuses``, ``includeArchived`` and simple
``where`` clauses (``Field=="value"`` joined by ``AND``). Xero's limits are enforced per
organisation (60 calls a minute, 5 in flight, 5,000 a day) with its headers and 429 bodies.

Fault modes are switched at run time through :class:`XeroFaults` (see ``Sandbox.xero_faults``).
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from flask import Flask, Response, request

from ar_radar.extract.rate_limit import Clock
from ar_radar.extract.xero_dates import xero_date
from ar_radar.local.sandbox.demo_company import DemoCompany
from ar_radar.local.sandbox.wire import dumps, to_xero_json

# endpoint path -> (collection key in the response, attribute on DemoCompany)
ENDPOINTS = {
    "Invoices": ("Invoices", "invoices"),
    "CreditNotes": ("CreditNotes", "credit_notes"),
    "Payments": ("Payments", "payments"),
    "Overpayments": ("Overpayments", "overpayments"),
    "Prepayments": ("Prepayments", "prepayments"),
    "Contacts": ("Contacts", "contacts"),
    "Organisation": ("Organisations", "organisations"),
}
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
_WHERE_TERM = re.compile(r'^\s*(\w+)\s*==\s*"([^"]*)"\s*$')


@dataclass
class XeroFaults:
    """Switchable misbehaviour. Counters count down one per API call they affect."""

    minute_429: int = 0  # next N calls: 429, problem "minute", Retry-After retry_after
    retry_after: int = 3
    day_429_tenants: set[str] = field(default_factory=set)  # these organisations: 429 "day"
    error_500: int = 0  # next N calls: 500
    fail_after: int | None = None  # after this many more calls: 500 until cleared
    delay_seconds: float = 0.0  # every API call sleeps this long (client timeouts)
    refuse_page_size_above: int | None = None  # 400 for larger pageSize
    change_while_paging: bool = False  # after a page 1 is served, its first record changes
    duplicate_first_record: bool = False  # each page repeats its first record
    drift: str | None = None  # "add_field", "remove_field" or "change_type" on invoices
    refresh_grace_seconds: float = 1800.0  # how long a rotated refresh token still works
    # An answer that is not the documented shape: "connections" (an object instead of the list) or "page"
    # (the collection key holding an object instead of a list).
    wrong_shape: str | None = None
    access_token_seconds: int = 1800


class _Limits:
    """Xero's per-organisation limits, enforced on the sandbox's clock."""

    def __init__(self, clock: Clock, per_minute: int = 60, per_day: int = 5000, concurrent: int = 5) -> None:
        self.clock, self.per_minute, self.per_day, self.concurrent = clock, per_minute, per_day, concurrent
        self.minute: dict[str, deque] = {}
        self.day: dict[str, int] = {}
        self.in_flight: dict[str, int] = {}
        self.lock = threading.Lock()
        self.rejected = 0

    def admit(self, tenant: str) -> tuple[str | None, dict]:
        with self.lock:
            now = self.clock.now()
            window = self.minute.setdefault(tenant, deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if self.day.get(tenant, 0) >= self.per_day:
                problem = "day"
            elif len(window) >= self.per_minute:
                problem = "minute"
            elif self.in_flight.get(tenant, 0) >= self.concurrent:
                problem = "concurrent"
            else:
                window.append(now)
                self.day[tenant] = self.day.get(tenant, 0) + 1
                self.in_flight[tenant] = self.in_flight.get(tenant, 0) + 1
                return None, {
                    "X-MinLimit-Remaining": str(self.per_minute - len(window)),
                    "X-DayLimit-Remaining": str(self.per_day - self.day[tenant]),
                    "X-AppMinLimit-Remaining": "9999",
                }
            self.rejected += 1
            retry = 1 if problem == "concurrent" else int(window[0] + 61 - now) if problem == "minute" else 86400
            return problem, {"Retry-After": str(max(1, retry)), "X-Rate-Limit-Problem": problem}

    def release(self, tenant: str) -> None:
        with self.lock:
            self.in_flight[tenant] -= 1


def _error(status: int, title: str, detail: str, headers: dict | None = None) -> Response:
    body = {"Type": None, "Title": title, "Status": status, "Detail": detail, "Instance": str(uuid.uuid4())}
    return Response(dumps(body), status=status, mimetype="application/json", headers=headers or {})


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


def _drifted(record: dict, drift: str | None) -> dict:
    if drift == "add_field":
        return {**record, "SalesTrackingCategoryV2": {"Name": "Region", "Option": "North"}}
    if drift == "remove_field":
        return {k: v for k, v in record.items() if k != "Reference"}
    if drift == "change_type":
        return {**record, "Total": str(record["Total"])}
    return record


def create_xero_app(
    companies: list[DemoCompany],
    client_id: str,
    client_secret: str,
    faults: XeroFaults | None = None,
    clock: Clock | None = None,
    refresh_token: str | None = None,
) -> Flask:
    """Build the Flask app serving ``companies`` (one Xero organisation each)."""
    app = Flask("xero_sandbox")
    faults = faults or XeroFaults()
    clock = clock or Clock()
    by_tenant = {c.tenant_id: c for c in companies}
    access_tokens: dict[str, float] = {}  # token -> expires at (sandbox clock)
    # refresh token -> time it was rotated away (None while current)
    refresh_tokens: dict[str, float | None] = {refresh_token: None} if refresh_token else {}
    lock = threading.Lock()
    limits = _Limits(clock)
    stats = {"calls": 0, "token_requests": 0, "refreshes": 0, "invalid_grants": 0}
    app.config.update(
        calls=stats, issued_tokens=set(), limits=limits, refresh_tokens=refresh_tokens, access_tokens=access_tokens
    )

    def issue(scope: str, with_refresh: bool) -> dict:
        access = secrets.token_urlsafe(32)
        access_tokens[access] = clock.now() + faults.access_token_seconds
        app.config["issued_tokens"].add(access)
        body = {
            "access_token": access,
            "expires_in": faults.access_token_seconds,
            "token_type": "Bearer",
            "scope": scope,
        }
        if with_refresh:
            new_refresh = secrets.token_urlsafe(32)
            refresh_tokens[new_refresh] = None
            app.config["issued_tokens"].add(new_refresh)
            body["refresh_token"] = new_refresh
        return body

    def json_response(body: dict, status: int = 200) -> Response:
        return Response(dumps(body), status, mimetype="application/json")

    @app.post("/connect/token")
    def token() -> Response:
        form = request.form
        cid, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            cid, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        if cid != client_id or secret != client_secret:
            return json_response({"error": "invalid_client"}, 400)
        with lock:
            stats["token_requests"] += 1
            grant = form.get("grant_type")
            if grant == "client_credentials":
                return json_response(issue("accounting.transactions.read accounting.contacts.read", False))
            if grant != "refresh_token":
                return json_response({"error": "unsupported_grant_type"}, 400)
            presented = form.get("refresh_token", "")
            if presented not in refresh_tokens:
                stats["invalid_grants"] += 1
                return json_response({"error": "invalid_grant"}, 400)
            rotated_at = refresh_tokens[presented]
            if rotated_at is not None and clock.now() - rotated_at > faults.refresh_grace_seconds:
                stats["invalid_grants"] += 1
                return json_response({"error": "invalid_grant"}, 400)
            if rotated_at is None:
                refresh_tokens[presented] = clock.now()
            stats["refreshes"] += 1
            return json_response(issue(form.get("scope") or "offline_access accounting.transactions.read", True))

    def authorised() -> bool:
        header = request.headers.get("Authorization", "")
        expiry = access_tokens.get(header[7:]) if header.startswith("Bearer ") else None
        return expiry is not None and expiry > clock.now()

    @app.get("/connections")
    @app.get("/Connections")  # xero-python asks for this spelling; Xero ignores case
    def connections() -> Response:
        if not authorised():
            return _error(401, "Unauthorized", "AuthenticationUnsuccessful")
        # The identity API uses ISO timestamps, unlike the accounting API's /Date(...)/.
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        if faults.wrong_shape == "connections":
            body = {"Connections": [{"TenantID": c.tenant_id} for c in companies]}
            return Response(dumps(body), mimetype="application/json")
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

    def injected_fault(tenant: str) -> Response | None:
        with lock:
            stats["calls"] += 1
            if faults.fail_after is not None:
                if faults.fail_after <= 0:
                    return _error(500, "Internal Server Error", "An error occurred in Xero.")
                faults.fail_after -= 1
            if faults.error_500 > 0:
                faults.error_500 -= 1
                return _error(500, "Internal Server Error", "An error occurred in Xero.")
            if tenant in faults.day_429_tenants:
                return _error(
                    429,
                    "Too Many Requests",
                    "Rate limit exceeded",
                    {"Retry-After": "43200", "X-Rate-Limit-Problem": "day"},
                )
            if faults.minute_429 > 0:
                faults.minute_429 -= 1
                return _error(
                    429,
                    "Too Many Requests",
                    "Rate limit exceeded",
                    {"Retry-After": str(faults.retry_after), "X-Rate-Limit-Problem": "minute"},
                )
        if faults.delay_seconds:
            time.sleep(faults.delay_seconds)
        return None

    def _for_tenant(answer: Callable[[DemoCompany, dict], Response]) -> Response:
        """What every accounting endpoint does first: credentials, the organisation, faults and its limits."""
        if not authorised():
            return _error(401, "Unauthorized", "AuthenticationUnsuccessful")
        tenant = request.headers.get("xero-tenant-id", "")
        company = by_tenant.get(tenant)
        if company is None:
            return _error(403, "Forbidden", "AuthenticationUnsuccessful: tenant not connected")
        if (fault := injected_fault(tenant)) is not None:
            return fault
        problem, limit_headers = limits.admit(tenant)
        if problem:
            return _error(429, "Too Many Requests", "Rate limit exceeded", limit_headers)
        try:
            return answer(company, limit_headers)
        finally:
            limits.release(tenant)

    @app.get("/api.xro/2.0/Invoices/<invoice_id>/OnlineInvoice")
    def online_invoice(invoice_id: str) -> Response:
        """The customer's online invoice (where they can pay): only for sent sales invoices, as in Xero."""

        def answer(company: DemoCompany, limit_headers: dict) -> Response:
            invoice = next((i for i in company.invoices if i["InvoiceID"] == invoice_id), None)
            if invoice is None:
                return _error(404, "Not Found", f"Invoice {invoice_id} was not found")
            if invoice["Type"] != "ACCREC" or invoice["Status"] not in ("AUTHORISED", "PAID"):
                return _error(400, "Validation error", "An online invoice is only available for sent sales invoices")
            url = f"https://in.xero.com/{uuid.uuid5(uuid.NAMESPACE_URL, invoice_id).hex}"
            body = {"Id": str(uuid.uuid4()), "Status": "OK", "OnlineInvoices": [{"OnlineInvoiceUrl": url}]}
            return Response(dumps(body), mimetype="application/json", headers=limit_headers)

        return _for_tenant(answer)

    @app.get("/api.xro/2.0/<endpoint>")
    def collection(endpoint: str) -> Response:
        if endpoint not in ENDPOINTS:
            return _error(404, "Not Found", f"The resource {endpoint} was not found")
        return _for_tenant(lambda company, limit_headers: _list(endpoint, company, limit_headers))

    def _list(endpoint: str, company: DemoCompany, limit_headers: dict) -> Response:
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
        # The spec's booleans are true/false; a spec-validating server (Xero's own mock) refuses "True".
        for name in ("includeArchived", "summaryOnly", "createdByMyApp"):
            if name in request.args and request.args[name] not in ("true", "false"):
                return _error(400, "Validation error", f"{name} must be true or false, not {request.args[name]!r}")
        if ids := request.args.get("IDs"):  # GET /Invoices?IDs=a,b,c: those records only
            wanted_ids = set(ids.split(","))
            id_key = {"Invoices": "InvoiceID", "Contacts": "ContactID"}.get(endpoint, "")
            records = [r for r in records if r.get(id_key) in wanted_ids]
        if statuses := request.args.get("Statuses"):
            wanted = set(statuses.split(","))
            records = [r for r in records if r.get("Status") in wanted]
        if endpoint == "Contacts" and request.args.get("includeArchived") != "true":
            records = [r for r in records if r.get("ContactStatus") != "ARCHIVED"]
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
            if (
                size > MAX_PAGE_SIZE
                or size < 1
                or (faults.refuse_page_size_above is not None and size > faults.refuse_page_size_above)
            ):
                return _error(400, "Validation error", f"pageSize {size} is not allowed for this endpoint")
            count = len(records)
            body["pagination"] = {
                "page": page,
                "pageSize": size,
                "pageCount": max(1, -(-count // size)),
                "itemCount": count,
            }
            records = records[(page - 1) * size : page * size]
        served = [to_xero_json(_drifted(r, faults.drift if endpoint == "Invoices" else None)) for r in records]
        if faults.change_while_paging and "page" in request.args and len(records) > 1:
            # Someone edits a record in Xero right after this page was read: it moves to the end of
            # the UpdatedDateUTC order, and every record after it moves up one place.
            records[0]["UpdatedDateUTC"] = datetime.now(UTC)
            faults.change_while_paging = False
        if faults.duplicate_first_record and served:
            served.append(served[0])
        body[key] = {"Items": served} if faults.wrong_shape == "page" else served
        return Response(dumps(body), mimetype="application/json", headers=limit_headers)

    return app
