"""Benchmark: the send step for 500 approved customer emails carrying 2,000 invoices, at Xero's real limits on a
simulated clock: Xero calls against the minimum, time spent waiting on the limits, and wall time.

    .venv/bin/python bench/reminder_sending.py [--emails 500] [--invoices-per-email 4] [--organisations 2]
                                               [--paid-percent 5] [--repeats 3]

The drafts are made by code (``outreach.drafts.store``, the step's real input): one email per customer, each
carrying ``--invoices-per-email`` open (AUTHORISED) invoices of its generated organisation (a customer rarely has
four open, so they are taken in turn from the organisation's open invoices), every invoice in one email only.
Before sending, ``--paid-percent`` of the invoices are paid in the Xero sandbox, so the
last-moment check has something to drop. Then ``outreach.sending.send_reminders`` runs as the DAG task does, every
email approved: the Xero check (official SDK, 50 ids a call, the organisation's limits of 60 calls a minute and 5
in flight), the HubSpot check and a note per sent email (official client), a local SMTP server, and two audit-log
writes per email. The Xero and HubSpot sandboxes and both clients share one simulated clock, so the limits cost
no real time: ``limit waits`` is the simulated time the clients slept, ``wall`` the real time of everything else.
The minimum number of Xero calls is one per 50 invoice ids per organisation.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import smtplib
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

AS_OF = date(2026, 11, 20)


def _companies(emails: int, per_email: int, organisations: int) -> list:
    from ar_radar.local.sandbox.demo_company import generate_demo_company

    # The generator leaves about 1.5 invoices open per customer (one year of history).
    customers = math.ceil(emails * per_email / organisations / 1.4)
    return [
        generate_demo_company(seed=70 + i, as_of=AS_OF, n_customers=customers, years=1, name=f"Bench {i + 1} Ltd")
        for i in range(organisations)
    ]


def _drafts(companies: list, emails: int, per_email: int) -> list:
    """``emails`` drafts spread over the organisations, each with ``per_email`` distinct open invoices."""
    from ar_radar.outreach.drafts import Draft

    drafts = []
    share = math.ceil(emails / len(companies))
    for company in companies:
        open_ = [i for i in company.invoices if i["Type"] == "ACCREC" and i["Status"] == "AUTHORISED"]
        open_ = [i for i in open_ if Decimal(str(i["AmountDue"])) > 0]
        open_.sort(key=lambda i: i["Contact"]["ContactID"])  # a customer's own invoices together
        if len(open_) < share * per_email:
            raise SystemExit(f"{company.name}: {len(open_)} open invoices, {share * per_email} needed")
        by_id = {c.contact_id: c for c in company.customers}
        owners = list(dict.fromkeys(i["Contact"]["ContactID"] for i in open_))  # one email per customer
        for n in range(min(share, emails - len(drafts))):
            invoices = open_[n * per_email : (n + 1) * per_email]
            customer = by_id[owners[n]]
            rows = [
                {
                    "invoice_id": i["InvoiceID"],
                    "amount_due": str(i["AmountDue"]),
                    "number": i["InvoiceNumber"],
                    "amount": f"{i['CurrencyCode']} {i['AmountDue']}",
                    "due": str(i["DueDate"]),
                    "days_overdue": 5,
                }
                for i in invoices
            ]
            lines = "\n".join(f"{r['number']}: {r['amount']}" for r in rows)
            drafts.append(
                Draft(
                    company.tenant_id,
                    customer.contact_id,
                    customer.name,
                    [customer.email],
                    rows,
                    "light",
                    "light",
                    "en",
                    f"Payment reminder: {len(rows)} invoices",
                    f"Dear {customer.name},\n\n{lines}\n",
                    f"<p>Dear {customer.name},</p><pre>{lines}</pre>",
                    "template",
                    action="light_reminder",
                )
            )
    return drafts


def _warehouse(db: Path, companies: list, drafts: list) -> None:
    """The tables the send step reads: the day's drafts, and the customers' outreach profiles (HubSpot company)."""
    import duckdb
    from ar_radar.outreach.drafts import store

    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.customer_outreach_profiles (tenant_id varchar, contact_id varchar, "
            "hubspot_company_id varchar, crm_email varchar, opted_out boolean)"
        )
        con.executemany(
            "insert into marts.customer_outreach_profiles values (?, ?, ?, null, false)",
            [(c.tenant_id, x.contact_id, x.hubspot_company_id) for c in companies for x in c.customers],
        )
    store(db, drafts, AS_OF, "bench")


def _clock():  # noqa: ANN202 - a SimulatedClock that also says which API's limits the time was spent on
    import sys

    from ar_radar.extract.hubspot import HubSpotApi
    from ar_radar.extract.rate_limit import SimulatedClock
    from ar_radar.extract.xero import XeroApi

    class PerApiClock(SimulatedClock):
        def __init__(self) -> None:
            super().__init__()
            self.by_api = {"xero": 0.0, "hubspot": 0.0, "other": 0.0}

        def sleep(self, seconds: float) -> None:
            frame, api = sys._getframe(1), "other"  # noqa: SLF001 - the caller's API object, if any
            while frame is not None and api == "other":
                owner = frame.f_locals.get("self")
                api = "xero" if isinstance(owner, XeroApi) else "hubspot" if isinstance(owner, HubSpotApi) else api
                frame = frame.f_back
            if seconds > 0:
                self.by_api[api] += seconds
            super().sleep(seconds)

    return PerApiClock()


def run_once(emails: int, per_email: int, organisations: int, paid_percent: float) -> dict:
    from ar_radar.extract.connections import connection_from_env
    from ar_radar.extract.xero import XeroApi, token_store_path
    from ar_radar.local.sandbox.server import Sandbox
    from ar_radar.local.smtp_sink import SmtpSink
    from ar_radar.outreach import sending
    from ar_radar.outreach.crm_activity import CrmActivity

    companies = _companies(emails, per_email, organisations)
    drafts = _drafts(companies, emails, per_email)
    invoices = [(d.tenant_id, i["invoice_id"]) for d in drafts for i in d.invoices]
    paid = set(invoices[:: max(1, round(100 / paid_percent))]) if paid_percent else set()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        _warehouse(db, companies, drafts)
        clock = _clock()
        with Sandbox(as_of=AS_OF, companies=companies, clock=clock) as box, SmtpSink() as sink:
            os.environ.update(box.airflow_connections())
            for company in companies:  # payments land in Xero after approval
                for record in company.invoices:
                    if (company.tenant_id, record["InvoiceID"]) in paid:
                        record.update(Status="PAID", AmountDue=Decimal("0"), UpdatedDateUTC=datetime.now(UTC))
            xero_conn = connection_from_env("xero_default")
            xero = XeroApi(xero_conn, token_store_path(xero_conn, Path(tmp) / "state"), clock=clock)
            crm = CrmActivity(connection_from_env("hubspot_default"), clock=clock)

            def deliver(message: object) -> None:
                with smtplib.SMTP(sink.host, sink.port) as client:
                    client.send_message(message)

            options = sending.SendOptions("Bench <ar@bench.example>", "ar@bench.example", smtp_retry_wait_seconds=0.1)
            before = box.xero_app.config["calls"]["calls"]
            started = time.perf_counter()
            outcomes = sending.send_reminders(
                db,
                AS_OF,
                "bench",
                sending.Approval("send", by="bench", at=datetime.now(UTC)),
                options,
                deliver,
                xero.invoices_by_id,
                crm.changed_since,
                crm.note_on_company,
            )
            wall = time.perf_counter() - started
            calls = box.xero_app.config["calls"]["calls"] - before
            received = len(sink.received)
    per_org: dict[str, int] = {}
    for tenant, _ in invoices:
        per_org[tenant] = per_org.get(tenant, 0) + 1
    with_paid = {d.contact_id for d in drafts if any((d.tenant_id, i["invoice_id"]) in paid for i in d.invoices)}
    skipped = {o.contact_id for o in outcomes if o.status == "skipped" and o.reason.startswith("changed in Xero")}
    sent = sum(o.status == "sent" for o in outcomes)
    assert skipped == with_paid and sent == received == len(drafts) - len(with_paid), (skipped, with_paid, sent)
    return {
        "emails": len(drafts),
        "invoices": len(invoices),
        "organisations": len(per_org),
        "sent": sent,
        "dropped_for_payment": len(skipped),
        "xero_calls": calls,
        "xero_minimum": sum(math.ceil(n / 50) for n in per_org.values()),
        "limit_waits": clock.slept,
        "xero_waits": clock.by_api["xero"],
        "hubspot_waits": clock.by_api["hubspot"],
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=500)
    parser.add_argument("--invoices-per-email", type=int, default=4)
    parser.add_argument("--organisations", type=int, default=2)
    parser.add_argument("--paid-percent", type=float, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{platform.platform()} · {os.cpu_count()} CPUs · {date.today()} · Python {platform.python_version()}")
    runs = []
    for _ in range(args.repeats):
        runs.append(run_once(args.emails, args.invoices_per_email, args.organisations, args.paid_percent))
        print(runs[-1])
    first, wall = runs[0], statistics.median(r["wall"] for r in runs)
    print(
        f"{first['emails']} approved emails, {first['invoices']} invoices, {first['organisations']} organisations: "
        f"{first['sent']} sent, {first['dropped_for_payment']} dropped for a payment; Xero calls {first['xero_calls']} "
        f"(minimum {first['xero_minimum']}); limit waits (simulated), median: Xero "
        f"{statistics.median(r['xero_waits'] for r in runs):.1f} s, HubSpot "
        f"{statistics.median(r['hubspot_waits'] for r in runs):.1f} s; wall median "
        f"{wall:.1f} s ({wall / first['emails'] * 1000:.0f} ms an email)"
    )


if __name__ == "__main__":
    main()
